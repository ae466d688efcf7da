/* report.c - see report.h. */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "report/run_data.h"
#include "report/svg.h"

#define FIG_W 960

/* ---- small helpers ---------------------------------------------------------- */

static void html_text(FILE *fp, const char *s) { svg_escape(fp, s); }

static void fmt_num(char *buf, size_t cap, double v) {
  if (!isfinite(v)) snprintf(buf, cap, "-");
  else snprintf(buf, cap, "%.4f", v);
}

/* Range of finite values, padded; [0, 1] stays inside [0, 1]. */
static void value_range(const double *v, int64_t n, double *lo, double *hi) {
  double a = INFINITY, b = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (isfinite(v[i])) {
      if (v[i] < a) a = v[i];
      if (v[i] > b) b = v[i];
    }
  if (!isfinite(a)) a = 0, b = 1;
  if (b - a < 1e-9) a -= 0.05, b += 0.05;
  double pad = 0.05 * (b - a);
  int unit = a >= 0 && b <= 1;
  a -= pad, b += pad;
  if (unit) {
    if (a < 0) a = 0;
    if (b > 1) b = 1;
  }
  *lo = a;
  *hi = b;
}

static void legend_entry(FILE *fp, double x, double y, const char *color, const char *label,
                         int dashed) {
  fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n",
          x, y, x + 22, y, color, dashed ? " stroke-dasharray=\"4 3\"" : "");
  fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\">", x + 28, y + 4);
  svg_escape(fp, label);
  fprintf(fp, "</text>\n");
}

static void legend_box(FILE *fp, double x, double y, const char *color, const char *label) {
  fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x, y - 6,
          color);
  fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\">", x + 17, y + 4);
  svg_escape(fp, label);
  fprintf(fp, "</text>\n");
}

/* ---- per-run figures ------------------------------------------------------- */

/* One colour scale for every run's matrix of the same metric in a report,
 * so that colours compare across runs. */
static void shared_range(const RunData *runs, int nruns, const char *metric, double *lo,
                         double *hi) {
  double a = INFINITY, b = -INFINITY;
  for (int i = 0; i < nruns; i++) {
    const RunData *r = &runs[i];
    if (strcmp(r->metric, metric)) continue;
    for (int64_t k = 0; k < (int64_t)r->nmodels * r->nintervals; k++)
      if (isfinite(r->matrix[k])) {
        if (r->matrix[k] < a) a = r->matrix[k];
        if (r->matrix[k] > b) b = r->matrix[k];
      }
  }
  double ends[2] = {a, b};
  value_range(ends, isfinite(a) ? 2 : 0, lo, hi);
}

static void fig_heatmap(FILE *fp, const RunData *r, double lo, double hi) {
  int nm = r->nmodels, ni = r->nintervals;
  if (nm == 0 || ni == 0) {
    fprintf(fp, "<p class=\"empty\">No evaluation matrix in this run.</p>\n");
    return;
  }
  double cell_h = 360.0 / nm;
  if (cell_h > 28) cell_h = 28;
  if (cell_h < 6) cell_h = 6;
  if (cell_h * nm < 120) cell_h = 120.0 / nm; /* a few models: taller rows */
  double left = 150, top = 30, width = FIG_W - left - 120, height = cell_h * nm;
  int H = (int)(top + height + 70);
  double cw = width / ni;
  char label[256], col[8], d1[32], d2[32];
  snprintf(label, sizeof label, "Evaluation matrix of %s: %s", r->name, r->metric);
  svg_open(fp, FIG_W, H, label);
  fprintf(fp, "<text x=\"%.1f\" y=\"18\" font-size=\"14\" font-weight=\"bold\" fill=\"#111\">", left);
  svg_escape(fp, r->metric);
  fprintf(fp, " of every model on every interval (%s on %s)</text>\n", r->handler, r->dataset);
  for (int m = 0; m < nm; m++) {
    double y = top + m * cell_h;
    for (int i = 0; i < ni; i++) {
      double v = r->matrix[(int64_t)m * ni + i];
      double x = left + i * cw;
      if (isfinite(v)) svg_color((v - lo) / (hi - lo), col);
      else snprintf(col, sizeof col, "#eeeeee");
      fprintf(fp, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                  "<title>model %d (data up to %s), interval from %s: %s</title></rect>\n",
              x, y, cw + 0.3, cell_h + 0.3, col, m,
              svg_date(r->triggers[m].last_ts, d1, sizeof d1),
              svg_date(r->intervals[i].start, d2, sizeof d2), isfinite(v) ? "" : "not evaluated");
    }
  }
  /* Outline the currently active model of each interval. */
  for (int i = 0; i < ni; i++) {
    int a = r->intervals[i].active;
    if (a < 0 || a >= nm) continue;
    fprintf(fp, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
                "stroke=\"#fff\" stroke-width=\"1.5\"/>\n",
            left + i * cw + 0.75, top + a * cell_h + 0.75, cw - 1.5, cell_h - 1.5);
  }
  fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
          left, top, width, height);
  /* Row labels (at most ~25), column labels (at most ~12). */
  /* Column labels: years when the intervals are a year or longer apart. */
  int years = ni > 1 && r->intervals[1].start - r->intervals[0].start >= 360 * 86400;
  double label_w = years ? 44 : 84;
  int rstep = nm > 25 ? (nm + 24) / 25 : 1, cstep = 1;
  while (cw * cstep < label_w) cstep++;
  for (int m = 0; m < nm; m += rstep)
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\" font-size=\"11\">"
                "%d: up to %s</text>\n", left - 6, top + (m + 0.5) * cell_h + 4, m,
            svg_date(r->triggers[m].last_ts, d1, sizeof d1));
  for (int i = 0; i < ni; i += cstep) {
    double x = left + (i + 0.5) * cw;
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", x,
            top + height, x, top + height + 4);
    /* Years: the year of the interval's middle (365-day years drift off Jan 1). */
    svg_date(years ? r->intervals[i].start + (r->intervals[i].end - r->intervals[i].start) / 2
                   : r->intervals[i].start, d1, sizeof d1);
    if (years) d1[4] = '\0';
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\" font-size=\"11\">%s</text>\n",
            x, top + height + 17, d1);
  }
  fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" fill=\"#111\">"
              "evaluation interval (start)</text>\n", left + width / 2, top + height + 38);
  fprintf(fp, "<text transform=\"translate(14,%.1f) rotate(-90)\" text-anchor=\"middle\" "
              "font-size=\"13\" fill=\"#111\">model (data up to)</text>\n",
          top + height / 2);
  fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\" font-size=\"11\">white outline: currently "
              "active model of the interval; grey: not evaluated</text>\n", left, top + height + 58);
  /* Colour bar. */
  double bx = left + width + 30, bh = height;
  for (int k = 0; k < 50; k++) {
    svg_color((k + 0.5) / 50.0, col);
    fprintf(fp, "<rect x=\"%.1f\" y=\"%.2f\" width=\"16\" height=\"%.2f\" fill=\"%s\"/>\n", bx,
            top + bh - (k + 1) * bh / 50, bh / 50 + 0.3, col);
  }
  fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
          bx, top, bh);
  for (int k = 0; k <= 4; k++) {
    double v = lo + (hi - lo) * k / 4, y = top + bh - bh * k / 4;
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333\" font-size=\"11\">%.2f</text>\n",
            bx + 16, y, bx + 20, y, bx + 23, y + 4, v);
  }
  svg_close(fp);
}

static void fig_composite(FILE *fp, const RunData *r) {
  if (r->nintervals == 0) return;
  SvgPlot p = {fp, 70, 50, FIG_W - 100, 250, 0, 0, 0, 0};
  double *vals = mh_malloc((size_t)(2 * r->nintervals + 1) * sizeof(double));
  if (!vals) return;
  for (int i = 0; i < r->nintervals; i++) {
    vals[2 * i] = r->intervals[i].active_value;
    vals[2 * i + 1] = r->intervals[i].trained_value;
  }
  value_range(vals, 2 * r->nintervals, &p.ymin, &p.ymax);
  free(vals);
  p.xmin = (double)r->intervals[0].ref;
  p.xmax = (double)r->intervals[r->nintervals - 1].ref;
  for (int i = 0; i < r->nintervals; i++) {
    if (r->intervals[i].ref < p.xmin) p.xmin = (double)r->intervals[i].ref;
    if (r->intervals[i].ref > p.xmax) p.xmax = (double)r->intervals[i].ref;
  }
  double pad = (p.xmax - p.xmin) * 0.03 + 1;
  p.xmin -= pad, p.xmax += pad;
  char label[256];
  snprintf(label, sizeof label, "Composite %s over time of %s", r->metric, r->name);
  svg_open(fp, FIG_W, 350, label);
  fprintf(fp, "<text x=\"%.1f\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#111\">"
              "Composite model %s over time</text>\n", p.left, r->metric);
  svg_axes(&p, "interval reference time", r->metric, SVG_X_DATES);
  for (int t = 0; t < r->ntriggers; t++) {
    double x = (double)r->triggers[t].last_ts;
    if (x < p.xmin || x > p.xmax) continue;
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
                "stroke-dasharray=\"3 3\"><title>trigger %lld</title></line>\n",
            svg_px(&p, x), p.top, svg_px(&p, x), p.top + p.height, (long long)r->triggers[t].trigger);
  }
  for (int s = 0; s < 2; s++) {
    const char *c = svg_series_color(s);
    fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", c);
    int open = 0;
    for (int i = 0; i < r->nintervals; i++) {
      double v = s ? r->intervals[i].trained_value : r->intervals[i].active_value;
      if (!isfinite(v) || r->intervals[i].num_samples == 0) {
        if (open) fprintf(fp, "\"/>\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", c);
        open = 0;
        continue;
      }
      fprintf(fp, "%.1f,%.1f ", svg_px(&p, (double)r->intervals[i].ref), svg_py(&p, v));
      open = 1;
    }
    fprintf(fp, "\"/>\n");
    for (int i = 0; i < r->nintervals; i++) {
      double v = s ? r->intervals[i].trained_value : r->intervals[i].active_value;
      if (!isfinite(v) || r->intervals[i].num_samples == 0) continue;
      fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
              svg_px(&p, (double)r->intervals[i].ref), svg_py(&p, v), c);
    }
  }
  /* Legend in one row above the plot, clear of the data. */
  double lx = p.left + p.width - 560, ly = p.top - 10;
  legend_entry(fp, lx, ly, svg_series_color(0), "currently active model", 0);
  legend_entry(fp, lx + 190, ly, svg_series_color(1), "currently trained model", 0);
  legend_entry(fp, lx + 385, ly, "#999", "trigger (data up to)", 1);
  svg_close(fp);
}

static void fig_samples(FILE *fp, const RunData *r) {
  int n = r->ntriggers;
  SvgPlot p = {fp, 80, 40, FIG_W / 2 - 110, 220, -0.5, n - 0.5, 0, 1};
  for (int t = 0; t < n; t++)
    if (r->triggers[t].samples_trained > p.ymax) p.ymax = (double)r->triggers[t].samples_trained;
  p.ymax *= 1.08;
  svg_open(fp, FIG_W / 2, 310, "Samples trained per trigger");
  fprintf(fp, "<text x=\"%.1f\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#111\">"
              "Samples trained per trigger (total %lld)</text>\n", p.left, (long long)r->samples_trained);
  svg_axes(&p, "trigger", "samples trained", SVG_X_INTEGERS);
  double bw = p.width / (n > 0 ? n : 1) * 0.8;
  for (int t = 0; t < n; t++) {
    double y = svg_py(&p, (double)r->triggers[t].samples_trained);
    fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                "<title>trigger %d: %lld samples</title></rect>\n",
            svg_px(&p, t) - bw / 2, y, bw, p.top + p.height - y, svg_series_color(0), t,
            (long long)r->triggers[t].samples_trained);
  }
  svg_close(fp);
}

static void fig_stages(FILE *fp, const RunData *r) {
  static const char *const names[] = {"selection", "training", "checkpoint", "evaluation"};
  int n = r->ntriggers;
  SvgPlot p = {fp, 80, 40, FIG_W / 2 - 110, 220, -0.5, n - 0.5, 0, 0};
  double total = 0;
  for (int t = 0; t < n; t++) {
    const RunTrigger *x = &r->triggers[t];
    double s = x->selection_s + x->train_s + x->checkpoint_s + x->eval_s;
    total += s;
    if (s > p.ymax) p.ymax = s;
  }
  p.ymax = p.ymax > 0 ? p.ymax * 1.25 : 1;
  svg_open(fp, FIG_W / 2, 310, "Time per stage per trigger");
  fprintf(fp, "<text x=\"%.1f\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#111\">"
              "Time per stage (total %.2f s)</text>\n", p.left, total);
  svg_axes(&p, "trigger", "seconds", SVG_X_INTEGERS);
  double bw = p.width / (n > 0 ? n : 1) * 0.8;
  for (int t = 0; t < n; t++) {
    const RunTrigger *x = &r->triggers[t];
    double v[4] = {x->selection_s, x->train_s, x->checkpoint_s, x->eval_s}, acc = 0;
    for (int k = 0; k < 4; k++) {
      double y0 = svg_py(&p, acc), y1 = svg_py(&p, acc + v[k]);
      acc += v[k];
      if (y0 - y1 <= 0) continue;
      fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\">"
                  "<title>trigger %d %s: %.4f s</title></rect>\n",
              svg_px(&p, t) - bw / 2, y1, bw, y0 - y1, svg_series_color(k + 2), t, names[k], v[k]);
    }
  }
  for (int k = 0; k < 4; k++)
    legend_box(fp, p.left + 10 + k * 92, p.top + 12, svg_series_color(k + 2), names[k]);
  svg_close(fp);
}

/* ---- across runs ------------------------------------------------------------- */

/* A sweep label without its seed ("TimeTrigger, every: 1y · seed 42" ->
 * "TimeTrigger, every: 1y"): the policy the point tries; "" without a seed
 * part (the run stands alone). */
static void policy_key(const char *label, char *out, size_t cap) {
  out[0] = '\0';
  if (!strstr(label, "seed ")) return;
  size_t len = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", label);
  for (char *part = buf, *next; part; part = next) {
    char *sep = strstr(part, " · ");
    next = sep ? sep + strlen(" · ") : NULL;
    if (sep) *sep = '\0';
    if (!strncmp(part, "seed ", 5)) continue;
    len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " · " : "", part);
    if (len >= cap) break;
  }
}

static void fig_scatter(FILE *fp, const RunData *runs, int nruns, int by_samples) {
  SvgPlot p = {fp, 80, 40, FIG_W / 2 - 120, 240, 0, 1, 0, 1};
  double *ys = mh_malloc((size_t)(nruns + 1) * sizeof(double));
  if (!ys) return;
  double xmax = 0;
  for (int i = 0; i < nruns; i++) {
    ys[i] = runs[i].score_mean;
    double x = by_samples ? (double)runs[i].samples_trained : runs[i].ntriggers;
    if (x > xmax) xmax = x;
  }
  value_range(ys, nruns, &p.ymin, &p.ymax);
  free(ys);
  p.xmax = xmax > 0 ? xmax * 1.12 : 1;
  const char *xl = by_samples ? "samples trained" : "number of triggers";
  char title[128];
  snprintf(title, sizeof title, "%s vs pipeline score", xl);
  svg_open(fp, FIG_W / 2, 330, title);
  fprintf(fp, "<text x=\"%.1f\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#111\">"
              "Pipeline score vs %s</text>\n", p.left, xl);
  svg_axes(&p, xl, "score (mean composite active)", by_samples ? SVG_X_NUMBERS : SVG_X_INTEGERS);
  /* Points of a sweep that differ only in their seed form one group: its
   * runs faint, their mean bold with bars from the smallest to the largest
   * value, labelled once with the policy and the number of seeds. */
  char (*key)[256] = mh_calloc((size_t)nruns + 1, sizeof *key);
  int *group = mh_calloc((size_t)nruns + 1, sizeof(int));
  double (*boxes)[3] = mh_calloc((size_t)nruns + 1, sizeof *boxes); /* placed labels: x0, x1, y */
  int nboxes = 0;
  if (!key || !group || !boxes) {
    free(boxes);
    free(key);
    free(group);
    svg_close(fp);
    return;
  }
  int ngroups = 0;
  for (int i = 0; i < nruns; i++) {
    policy_key(runs[i].label, key[i], sizeof key[i]);
    group[i] = -1;
    for (int j = 0; j < i && key[i][0]; j++)
      if (!strcmp(key[i], key[j])) {
        group[i] = group[j];
        break;
      }
    if (group[i] < 0) group[i] = ngroups++;
  }
  for (int g = 0; g < ngroups; g++) {
    int n = 0, first = -1;
    double sx = 0, sy = 0, x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < nruns; i++) {
      if (group[i] != g || !isfinite(runs[i].score_mean)) continue;
      double x = by_samples ? (double)runs[i].samples_trained : runs[i].ntriggers;
      double y = runs[i].score_mean;
      if (first < 0) first = i;
      n++;
      sx += x, sy += y;
      x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
    }
    if (n == 0) continue;
    const char *c = svg_series_color(g);
    char tag[300];
    if (n > 1) {
      for (int i = 0; i < nruns; i++) /* the group's runs, faint */
        if (group[i] == g && isfinite(runs[i].score_mean))
          fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" opacity=\"0.45\"/>\n",
                  svg_px(&p, by_samples ? (double)runs[i].samples_trained : runs[i].ntriggers),
                  svg_py(&p, runs[i].score_mean), c);
      fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"2\"/>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"%s\" stroke-width=\"2\"/>\n",
              svg_px(&p, sx / n), svg_py(&p, y0), svg_px(&p, sx / n), svg_py(&p, y1), c,
              svg_px(&p, x0), svg_py(&p, sy / n), svg_px(&p, x1), svg_py(&p, sy / n), c);
      snprintf(tag, sizeof tag, "%s (%d seeds)", key[first], n);
    } else if (runs[first].label[0]) {
      snprintf(tag, sizeof tag, "%s", runs[first].label);
    } else {
      snprintf(tag, sizeof tag, "run %d", first);
    }
    const double x = svg_px(&p, sx / n), y = svg_py(&p, sy / n);
    fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\" stroke=\"#222\"><title>", x, y,
            c);
    svg_escape(fp, tag);
    /* right of the point, or left of it in the plot's right half (inside the figure) */
    const int left_side = x > p.left + p.width / 2;
    const double tx = left_side ? x - 9 : x + 9, tw = 6.2 * (double)strlen(tag);
    const double bx0 = left_side ? tx - tw : tx, bx1 = left_side ? tx : tx + tw;
    /* Labels of points that coincide or crowd would overlap: try the
     * natural line, then lines further below and above, and join a moved
     * label to its point with a thin line. */
    double ty = y - 8;
    for (int tries = 0; tries < 24; tries++) {
      const double cand = y - 8 + 13.0 * (tries % 2 ? (tries + 1) / 2 : -(tries / 2));
      int clash = 0;
      for (int b = 0; b < nboxes && !clash; b++)
        clash = bx0 < boxes[b][1] && boxes[b][0] < bx1 && fabs(cand - boxes[b][2]) < 12.0;
      if (!clash && cand > p.top + 10 && cand < p.top + p.height + 30) {
        ty = cand;
        break;
      }
    }
    if (nboxes < nruns + 1) {
      boxes[nboxes][0] = bx0, boxes[nboxes][1] = bx1, boxes[nboxes][2] = ty;
      nboxes++;
    }
    fprintf(fp, ": %.4f (%.4f to %.4f)</title></circle>\n<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\" "
                "font-size=\"11\"%s>",
            sy / n, y0, y1, tx, ty, left_side ? " text-anchor=\"end\"" : "");
    svg_escape(fp, tag);
    fprintf(fp, "</text>\n");
    if (fabs(ty - (y - 8)) > 1)
      fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
                  "stroke-width=\"0.7\"/>\n",
              x, y, left_side ? tx + 2 : tx - 2, ty - 4);
  }
  free(boxes);
  free(key);
  free(group);
  svg_close(fp);
}

/* ---- CSV ----------------------------------------------------------------------- */

static int write_csvs(const RunData *runs, int nruns, const char *out) {
  char path[1200];
  AtomicFile f;
  snprintf(path, sizeof path, "%s/runs.csv", out);
  MH_TRY(atomic_open(&f, path));
  fprintf(f.fp, "run,dir,pipeline,triggers,samples_trained,intervals_scored,score_mean,"
                "score_time_weighted,handler,dataset,metric,sweep_values\n");
  for (int i = 0; i < nruns; i++) {
    const RunData *r = &runs[i];
    fprintf(f.fp, "%d,%s,%s,%d,%lld,%d,%.6f,%.6f,%s,%s,%s,\"", i, r->dir, r->name, r->ntriggers,
            (long long)r->samples_trained, r->scored, r->score_mean, r->score_tw, r->handler,
            r->dataset, r->metric);
    for (const char *c = r->label; *c; c++) fputs(*c == '"' ? "\"\"" : (char[]){*c, 0}, f.fp);
    fputs("\"\n", f.fp);
  }
  MH_TRY(atomic_commit(&f));
  for (int i = 0; i < nruns; i++) {
    const RunData *r = &runs[i];
    snprintf(path, sizeof path, "%s/run_%02d_matrix.csv", out, i);
    MH_TRY(atomic_open(&f, path));
    fprintf(f.fp, "model,trained_up_to,interval_start,interval_end,value\n");
    for (int m = 0; m < r->nmodels; m++)
      for (int k = 0; k < r->nintervals; k++)
        fprintf(f.fp, "%d,%lld,%lld,%lld,%.6f\n", m, (long long)r->triggers[m].last_ts,
                (long long)r->intervals[k].start, (long long)r->intervals[k].end,
                r->matrix[(int64_t)m * r->nintervals + k]);
    MH_TRY(atomic_commit(&f));
    snprintf(path, sizeof path, "%s/run_%02d_composite.csv", out, i);
    MH_TRY(atomic_open(&f, path));
    fprintf(f.fp, "interval_start,interval_end,reference_time,num_samples,active_model,"
                  "active_value,trained_model,trained_value\n");
    for (int k = 0; k < r->nintervals; k++) {
      const RunInterval *x = &r->intervals[k];
      fprintf(f.fp, "%lld,%lld,%lld,%lld,%d,%.6f,%d,%.6f\n", (long long)x->start, (long long)x->end,
              (long long)x->ref, (long long)x->num_samples, x->active, x->active_value, x->trained,
              x->trained_value);
    }
    MH_TRY(atomic_commit(&f));
    snprintf(path, sizeof path, "%s/run_%02d_triggers.csv", out, i);
    MH_TRY(atomic_open(&f, path));
    fprintf(f.fp, "trigger,first_timestamp,last_timestamp,samples_trained,selection_s,train_s,"
                  "checkpoint_s,eval_s\n");
    for (int t = 0; t < r->ntriggers; t++) {
      const RunTrigger *x = &r->triggers[t];
      fprintf(f.fp, "%lld,%lld,%lld,%lld,%.6f,%.6f,%.6f,%.6f\n", (long long)x->trigger,
              (long long)x->first_ts, (long long)x->last_ts, (long long)x->samples_trained,
              x->selection_s, x->train_s, x->checkpoint_s, x->eval_s);
    }
    MH_TRY(atomic_commit(&f));
  }
  return MH_OK;
}

/* ---- the page ----------------------------------------------------------------- */

static const char *const k_css =
    "body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222;"
    "background:#fff}h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:36px;"
    "border-bottom:2px solid #ddd;padding-bottom:4px}p.meta{color:#666;margin-top:0}"
    "table{border-collapse:collapse;margin:12px 0;font-size:13px}th,td{border:1px solid #ccc;"
    "padding:4px 10px;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}"
    "figure{margin:16px 0}figcaption{font-size:12px;color:#555;margin-top:2px}"
    ".row{display:flex;gap:0}.row figure{margin:8px 0}svg{display:block}p.empty{color:#999}";

static void runs_table(FILE *fp, const RunData *runs, int nruns) {
  fprintf(fp, "<table><tr><th>run</th><th class=\"l\">pipeline</th><th class=\"l\">directory</th>"
              "<th>triggers</th><th>samples trained</th><th>intervals</th><th>score (mean)</th>"
              "<th>score (time-weighted)</th></tr>\n");
  char a[32], b[32];
  for (int i = 0; i < nruns; i++) {
    const RunData *r = &runs[i];
    fmt_num(a, sizeof a, r->score_mean);
    fmt_num(b, sizeof b, r->score_tw);
    fprintf(fp, "<tr><td>%d</td><td class=\"l\">", i);
    html_text(fp, r->name);
    if (r->label[0]) {
      fprintf(fp, "<br><small>");
      html_text(fp, r->label);
      fprintf(fp, "</small>");
    }
    fprintf(fp, "</td><td class=\"l\">");
    html_text(fp, r->dir);
    fprintf(fp, "</td><td>%d</td><td>%lld</td><td>%d</td><td>%s</td><td>%s</td></tr>\n",
            r->ntriggers, (long long)r->samples_trained, r->scored, a, b);
  }
  fprintf(fp, "</table>\n");
}

static int write_html(const RunData *runs, int nruns, const char *out) {
  char path[1200];
  snprintf(path, sizeof path, "%s/index.html", out);
  AtomicFile f;
  MH_TRY(atomic_open(&f, path));
  FILE *fp = f.fp;
  time_t now = time(NULL);
  struct tm tm;
  char stamp[64];
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M UTC", &tm);
  fprintf(fp, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<title>modyn-hpc report</title><style>%s</style></head><body>\n", k_css);
  fprintf(fp, "<h1>modyn-hpc report</h1>\n<p class=\"meta\">%d run%s, generated %s. The pipeline "
              "score is the mean over evaluation intervals with data of the currently active "
              "model's metric (time-weighted: weighted by interval length). Numbers as CSV: "
              "runs.csv and run_NN_*.csv next to this page.</p>\n",
          nruns, nruns == 1 ? "" : "s", stamp);
  fprintf(fp, "<h2 id=\"compare\">Runs compared</h2>\n");
  runs_table(fp, runs, nruns);
  fprintf(fp, "<div class=\"row\"><figure>");
  fig_scatter(fp, runs, nruns, 0);
  fprintf(fp, "</figure><figure>");
  fig_scatter(fp, runs, nruns, 1);
  fprintf(fp, "</figure></div>\n<p class=\"meta\">Cost (triggers, samples trained) vs score, as "
              "in the paper's comparison figures; points are labelled with their sweep values, or "
              "the run number of the table.</p>\n");
  for (int i = 0; i < nruns; i++) {
    const RunData *r = &runs[i];
    char a[32];
    fmt_num(a, sizeof a, r->score_mean);
    fprintf(fp, "<h2 id=\"run%d\">Run %d: ", i, i);
    html_text(fp, r->name);
    fprintf(fp, "</h2>\n<p class=\"meta\">");
    html_text(fp, r->dir);
    fprintf(fp, " &middot; %d trigger%s &middot; %lld samples trained &middot; score %s (",
            r->ntriggers, r->ntriggers == 1 ? "" : "s", (long long)r->samples_trained, a);
    html_text(fp, r->metric[0] ? r->metric : "no metric");
    fprintf(fp, ", handler ");
    html_text(fp, r->handler);
    fprintf(fp, ", dataset ");
    html_text(fp, r->dataset);
    fprintf(fp, ")</p>\n<figure>");
    double lo, hi;
    shared_range(runs, nruns, r->metric, &lo, &hi);
    fig_heatmap(fp, r, lo, hi);
    fprintf(fp, "<figcaption>Evaluation matrix: each row is the model of one trigger, each column "
                "an evaluation interval (run_%02d_matrix.csv).</figcaption></figure>\n<figure>", i);
    fig_composite(fp, r);
    fprintf(fp, "<figcaption>Composite models per interval (run_%02d_composite.csv).</figcaption>"
                "</figure>\n<div class=\"row\"><figure>", i);
    fig_samples(fp, r);
    fprintf(fp, "</figure><figure>");
    fig_stages(fp, r);
    fprintf(fp, "</figure></div>\n<p class=\"meta\">Per trigger (run_%02d_triggers.csv; stage "
                "times from events.jsonl).</p>\n", i);
  }
  fprintf(fp, "</body></html>\n");
  return atomic_commit(&f);
}

int report_write(const char *const *run_dirs, int nruns, const char *out_dir) {
  RunData *runs = mh_calloc((size_t)nruns + 1, sizeof *runs);
  if (!runs) return MH_ERR;
  int rc = MH_OK, loaded = 0;
  for (int i = 0; !rc && i < nruns; i++) {
    rc = run_data_load(run_dirs[i], &runs[i]);
    if (!rc) loaded++;
  }
  if (!rc) rc = mh_mkdir_p(out_dir);
  if (!rc) rc = write_csvs(runs, nruns, out_dir);
  if (!rc) rc = write_html(runs, nruns, out_dir);
  for (int i = 0; i < loaded; i++) run_data_free(&runs[i]);
  if (rc && loaded < nruns) run_data_free(&runs[loaded]);
  free(runs);
  return rc;
}
