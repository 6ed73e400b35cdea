/* svg_chart.c - draws charts as inline SVG: axes with "nice" ticks, a
 * legend, polylines (gaps at NaN) or stacked filled areas. No scripts, so
 * a report opens anywhere, offline. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dltrain/error.h"
#include "monitor/report_page.h"
#include "monitor/svg_chart.h"

enum { LEFT = 64, RIGHT = 16, TOP = 46, BOTTOM = 42 };

const char *dlt__svg_color(int i)
{
    static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
    return palette[i % 10];
}

/* Tick step of 1, 2 or 5 x 10^k giving about 5 intervals. */
static double nice_step(double range)
{
    double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void fmt_tick(double v, double step, char *buf, size_t size)
{
    double a = fabs(v);
    if (a != 0 && (a >= 1e6 || a < 1e-3))
        snprintf(buf, size, "%.2g", v);
    else if (step >= 1)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.*f", (int)ceil(-log10(step)), v);
}

typedef struct frame {
    double x0, x1, y0, y1;  /* data range */
    int w, h;               /* plot area */
} frame;

static double px(const frame *fr, double x) { return LEFT + (x - fr->x0) / (fr->x1 - fr->x0) * fr->w; }
static double py(const frame *fr, double y) { return TOP + fr->h - (y - fr->y0) / (fr->y1 - fr->y0) * fr->h; }

/* Cumulative sums for stacking: level[k][i] = sum of series 0..k at i. */
static double *stack_levels(const dlt__chart *c, double scale)
{
    int n = c->series[0].n;
    double *lv = dlt_calloc((size_t)c->nseries * n, sizeof(double));
    for (int k = 0; k < c->nseries; k++)
        for (int i = 0; i < n; i++) {
            double y = i < c->series[k].n && isfinite(c->series[k].y[i]) ? c->series[k].y[i] * scale : 0;
            lv[k * n + i] = (k ? lv[(k - 1) * n + i] : 0) + y;
        }
    return lv;
}

static int data_range(const dlt__chart *c, double scale, const double *levels, frame *fr)
{
    fr->x0 = fr->y0 = INFINITY;
    fr->x1 = fr->y1 = -INFINITY;
    int any = 0;
    for (int k = 0; k < c->nseries; k++)
        for (int i = 0; i < c->series[k].n; i++) {
            double x = c->series[k].x[i];
            double y = levels ? levels[k * c->series[0].n + i] : c->series[k].y[i] * scale;
            if (!isfinite(x) || !isfinite(y))
                continue;
            any = 1;
            fr->x0 = fmin(fr->x0, x), fr->x1 = fmax(fr->x1, x);
            fr->y0 = fmin(fr->y0, y), fr->y1 = fmax(fr->y1, y);
        }
    if (!any)
        return 0;
    if (c->zero_based || c->stacked)
        fr->y0 = fmin(fr->y0, 0);
    if (fr->x1 <= fr->x0)
        fr->x1 = fr->x0 + 1;
    if (fr->y1 <= fr->y0)
        fr->y1 = fr->y0 + (fr->y0 != 0 ? fabs(fr->y0) * 0.1 : 1);
    double pad = (fr->y1 - fr->y0) * 0.05;
    fr->y1 += pad;
    if (!(c->zero_based || c->stacked) || fr->y0 < 0)
        fr->y0 -= pad;
    return 1;
}

static void axes(FILE *f, const dlt__chart *c, const frame *fr)
{
    char buf[64];
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fff\" stroke=\"#999\"/>\n",
            LEFT, TOP, fr->w, fr->h);
    double ys = nice_step(fr->y1 - fr->y0);
    for (double v = ceil(fr->y0 / ys) * ys; v <= fr->y1 + 1e-9 * ys; v += ys) {
        double y = py(fr, v);
        fmt_tick(fabs(v) < 1e-12 * ys ? 0 : v, ys, buf, sizeof buf);
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%s</text>\n",
                LEFT, LEFT + fr->w, y, y, LEFT - 4, y + 4, buf);
    }
    double xs = nice_step(fr->x1 - fr->x0);
    for (double v = ceil(fr->x0 / xs) * xs; v <= fr->x1 + 1e-9 * xs; v += xs) {
        double x = px(fr, v);
        fmt_tick(v, xs, buf, sizeof buf);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#999\"/>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%s</text>\n",
                x, x, TOP + fr->h, TOP + fr->h + 4, x, TOP + fr->h + 16, buf);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"label\">", LEFT + fr->w / 2,
            TOP + fr->h + 34);
    dlt__html(f, c->xlabel);
    fprintf(f, "</text><text transform=\"translate(14,%d) rotate(-90)\" text-anchor=\"middle\" "
               "class=\"label\">", TOP + fr->h / 2);
    dlt__html(f, c->ylabel);
    fputs("</text>\n", f);
}

static void legend(FILE *f, const dlt__chart *c)
{
    int x = LEFT;
    for (int k = 0; k < c->nseries; k++) {
        fprintf(f, "<rect x=\"%d\" y=\"28\" width=\"12\" height=\"8\" fill=\"%s\"/>"
                   "<text x=\"%d\" y=\"36\" class=\"legend\">", x, c->series[k].color, x + 16);
        dlt__html(f, c->series[k].name);
        fputs("</text>\n", f);
        x += 24 + 7 * (int)strlen(c->series[k].name);
    }
}

static void polyline(FILE *f, const frame *fr, const dlt__series *s, double scale)
{
    int open = 0;
    for (int i = 0; i < s->n; i++) {
        double y = s->y[i] * scale;
        if (!isfinite(y) || !isfinite(s->x[i])) {
            if (open)
                fputs("\"/>\n", f);
            open = 0;
            continue;
        }
        if (!open)
            fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s d=\"M", s->color,
                    s->dashed ? " stroke-dasharray=\"5,3\"" : "");
        fprintf(f, "%s%.1f,%.1f", open ? " L" : "", px(fr, s->x[i]), py(fr, y));
        open = 1;
    }
    if (open)
        fputs("\"/>\n", f);
    if (s->markers)
        for (int i = 0; i < s->n; i++)
            if (isfinite(s->y[i] * scale) && isfinite(s->x[i]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(fr, s->x[i]),
                        py(fr, s->y[i] * scale), s->color);
}

static void areas(FILE *f, const frame *fr, const dlt__chart *c, const double *lv)
{
    int n = c->series[0].n;
    const double *x = c->series[0].x;
    for (int k = 0; k < c->nseries; k++) {
        fprintf(f, "<path fill=\"%s\" fill-opacity=\"0.75\" stroke=\"%s\" d=\"M", c->series[k].color,
                c->series[k].color);
        for (int i = 0; i < n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " L" : "", px(fr, x[i]), py(fr, lv[k * n + i]));
        for (int i = n - 1; i >= 0; i--)
            fprintf(f, " L%.1f,%.1f", px(fr, x[i]), py(fr, k ? lv[(k - 1) * n + i] : 0));
        fputs(" Z\"/>\n", f);
    }
}

void dlt__svg_chart(FILE *f, const dlt__chart *c, int width, int height)
{
    double scale = c->y_scale != 0 ? c->y_scale : 1;
    frame fr = {0, 0, 0, 0, width - LEFT - RIGHT, height - TOP - BOTTOM};
    double *lv = c->stacked && c->nseries > 0 && c->series[0].n > 0 ? stack_levels(c, scale) : NULL;
    int any = c->nseries > 0 && data_range(c, scale, lv, &fr);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\">\n<text x=\"%d\" y=\"18\" class=\"title\">", width, height,
            width, height, LEFT);
    dlt__html(f, c->title);
    fputs("</text>\n", f);
    if (!any) {
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
                   "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"label\">no data yet</text>\n",
                LEFT, TOP, fr.w, fr.h, LEFT + fr.w / 2, TOP + fr.h / 2);
    } else {
        axes(f, c, &fr);
        legend(f, c);
        if (lv)
            areas(f, &fr, c, lv);
        else
            for (int k = 0; k < c->nseries; k++)
                polyline(f, &fr, &c->series[k], scale);
    }
    fputs("</svg>\n", f);
    free(lv);
}
