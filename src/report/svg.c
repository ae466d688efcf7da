/* svg.c - see svg.h. */
#include "report/svg.h"

#include <math.h>
#include <string.h>
#include <time.h>

void svg_open(FILE *fp, int w, int h, const char *label) {
  fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
              "height=\"%d\" role=\"img\" aria-label=\"", w, h, w, h);
  svg_escape(fp, label);
  fprintf(fp, "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n");
}

void svg_close(FILE *fp) { fprintf(fp, "</svg>\n"); }

double svg_px(const SvgPlot *p, double x) {
  double span = p->xmax - p->xmin;
  return p->left + (span > 0 ? (x - p->xmin) / span : 0.5) * p->width;
}

double svg_py(const SvgPlot *p, double y) {
  double span = p->ymax - p->ymin;
  return p->top + p->height - (span > 0 ? (y - p->ymin) / span : 0.5) * p->height;
}

void svg_escape(FILE *fp, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", fp); break;
    case '>': fputs("&gt;", fp); break;
    case '&': fputs("&amp;", fp); break;
    case '"': fputs("&quot;", fp); break;
    default: fputc(*s, fp);
    }
  }
}

const char *svg_date(int64_t ts, char *buf, size_t cap) {
  time_t t = (time_t)ts;
  struct tm tm;
  if (gmtime_r(&t, &tm)) strftime(buf, cap, "%Y-%m-%d", &tm);
  else snprintf(buf, cap, "%lld", (long long)ts);
  return buf;
}

void svg_color(double t, char out[8]) {
  /* Anchors of matplotlib's viridis, interpolated linearly. */
  static const double c[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  double f = t * 4;
  int i = (int)f;
  if (i > 3) i = 3;
  f -= i;
  int rgb[3];
  for (int k = 0; k < 3; k++) rgb[k] = (int)lround(c[i][k] + f * (c[i + 1][k] - c[i][k]));
  snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

const char *svg_series_color(int i) {
  /* 16 distinct colours (tab10, then darker and lighter companions) */
  static const char *const c[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                  "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
                                  "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
                                  "#3182bd"};
  return c[((i % 16) + 16) % 16];
}

/* A "nice" step (1, 2, 5 x 10^k) for about n ticks over span. */
static double nice_step(double span, int n) {
  if (!(span > 0)) return 1;
  double raw = span / n, mag = pow(10, floor(log10(raw))), r = raw / mag;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

static void tick_x(const SvgPlot *p, double x, const char *label) {
  FILE *fp = p->fp;
  double px = svg_px(p, x), y1 = p->top + p->height;
  fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", px,
          p->top, px, y1);
  fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", px, y1,
          px, y1 + 5);
  fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">", px, y1 + 18);
  svg_escape(fp, label);
  fprintf(fp, "</text>\n");
}

/* Date ticks on year, month or day boundaries, at most about 8. */
static void date_ticks(const SvgPlot *p) {
  static const int64_t day = 86400;
  double span = p->xmax - p->xmin;
  time_t t0 = (time_t)p->xmin;
  struct tm tm;
  gmtime_r(&t0, &tm);
  char buf[32];
  if (span > 3 * 365 * day) {
    int years = (int)(span / (365.0 * day));
    int step = years <= 8 ? 1 : years <= 16 ? 2 : years <= 40 ? 5 : years <= 80 ? 10 : 20;
    int y = tm.tm_year + 1900;
    y = (y + step - 1) / step * step;
    for (;; y += step) {
      struct tm b = {0};
      b.tm_year = y - 1900;
      b.tm_mday = 1;
      double x = (double)timegm(&b);
      if (x < p->xmin) continue;
      if (x > p->xmax) break;
      snprintf(buf, sizeof buf, "%d", y);
      tick_x(p, x, buf);
    }
  } else if (span > 60 * day) {
    int months = (int)(span / (30.0 * day));
    int step = months <= 8 ? 1 : months <= 16 ? 2 : months <= 24 ? 3 : 6;
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1; /* first boundary after xmin */
    for (;;) {
      struct tm b = {0};
      b.tm_year = y - 1900;
      b.tm_mon = m;
      b.tm_mday = 1;
      double x = (double)timegm(&b);
      if (x > p->xmax) break;
      if (x >= p->xmin && m % step == 0) {
        snprintf(buf, sizeof buf, "%04d-%02d", y + m / 12, m % 12 + 1);
        tick_x(p, x, buf);
      }
      m++;
    }
  } else {
    double step = nice_step(span / day, 6) * day;
    if (step < day) step = day;
    for (double x = ceil(p->xmin / step) * step; x <= p->xmax; x += step)
      tick_x(p, x, svg_date((int64_t)x, buf, sizeof buf));
  }
}

/* A tick value on an axis spanning [lo, hi]: 0, plain, or in k/M units
 * when the axis reaches 10^4/10^7. */
static void tick_label(double v, double lo, double hi, char *buf, size_t cap) {
  double big = fabs(hi) > fabs(lo) ? fabs(hi) : fabs(lo);
  if (fabs(v) < 1e-12) snprintf(buf, cap, "0");
  else if (big >= 1e7) snprintf(buf, cap, "%gM", v / 1e6);
  else if (big >= 1e4) snprintf(buf, cap, "%gk", v / 1e3);
  else snprintf(buf, cap, "%g", v);
}

void svg_axes(const SvgPlot *p, const char *xlabel, const char *ylabel, int x_dates) {
  FILE *fp = p->fp;
  char buf[64];
  /* y grid and ticks */
  double ys = nice_step(p->ymax - p->ymin, 5);
  for (double y = ceil(p->ymin / ys - 1e-9) * ys; y <= p->ymax + 1e-9 * ys; y += ys) {
    double py = svg_py(p, y);
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n",
            p->left, py, p->left + p->width, py);
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            p->left - 5, py, p->left, py);
    tick_label(y, p->ymin, p->ymax, buf, sizeof buf);
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">%s</text>\n",
            p->left - 8, py + 4, buf);
  }
  if (x_dates == SVG_X_DATES) {
    date_ticks(p);
  } else {
    /* Fewer ticks when labels are long (about 7 px per character). */
    int nt = (int)(p->width / 70);
    if (nt > 6) nt = 6;
    if (nt < 2) nt = 2;
    double xs = nice_step(p->xmax - p->xmin, nt);
    if (x_dates == SVG_X_INTEGERS && xs < 1) xs = 1;
    for (double x = ceil(p->xmin / xs - 1e-9) * xs; x <= p->xmax + 1e-9 * xs; x += xs) {
      tick_label(x, p->xmin, p->xmax, buf, sizeof buf);
      tick_x(p, x, buf);
    }
  }
  fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#333\"/>\n", p->left, p->top, p->width, p->height);
  fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" fill=\"#111\">",
          p->left + p->width / 2, p->top + p->height + 38);
  svg_escape(fp, xlabel);
  fprintf(fp, "</text>\n<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\" "
              "font-size=\"13\" fill=\"#111\">", p->left - 48, p->top + p->height / 2);
  svg_escape(fp, ylabel);
  fprintf(fp, "</text>\n");
}
