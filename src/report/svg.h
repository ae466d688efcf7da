/* svg.h - small helpers for writing SVG figures into an HTML page: a plot
 * area with linear axes (numbers or dates), ticks, grid lines, labels, a
 * colour scale, and XML escaping. It draws nothing by itself and knows
 * nothing about runs (report.h). */
#ifndef MH_SVG_H
#define MH_SVG_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
  FILE *fp;
  double left, top, width, height; /* plot area in pixels inside the svg */
  double xmin, xmax, ymin, ymax;   /* data range */
} SvgPlot;

/* <svg> with a viewBox of w x h pixels, role="img" and an aria label. */
void svg_open(FILE *fp, int w, int h, const char *label);
void svg_close(FILE *fp);
/* Pixel position of a data value. */
double svg_px(const SvgPlot *p, double x);
double svg_py(const SvgPlot *p, double y);
/* How x ticks are placed: numbers (1, 2, 5 x 10^k steps), integers only
 * (counts such as trigger numbers), or dates (x in unix seconds, ticks on
 * year / month / day boundaries). */
enum { SVG_X_NUMBERS = 0, SVG_X_DATES = 1, SVG_X_INTEGERS = 2 };
/* Frame, grid lines, ticks and tick labels, axis titles. */
void svg_axes(const SvgPlot *p, const char *xlabel, const char *ylabel, int x_mode);
/* Print text escaped for XML. */
void svg_escape(FILE *fp, const char *s);
/* A colour of the viridis-like scale for t in [0, 1] as "#rrggbb". */
void svg_color(double t, char out[8]);
/* A short date "YYYY-MM-DD" (UTC) of a timestamp. */
const char *svg_date(int64_t ts, char *buf, size_t cap);
/* Distinct colours for series (cycled). */
const char *svg_series_color(int i);

#endif
