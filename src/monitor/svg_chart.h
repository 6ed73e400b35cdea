/* svg_chart.h - inline SVG line and stacked-area charts for the report. */
#ifndef DLTRAIN_MONITOR_SVG_CHART_H
#define DLTRAIN_MONITOR_SVG_CHART_H

#include <stdio.h>

typedef struct dlt__series {
    const char *name;
    const char *color;       /* CSS color */
    const double *x, *y;     /* n points; NaN y values leave a gap */
    int n;
    int dashed, markers;     /* markers: dots at points (sparse series such as tests) */
} dlt__series;

typedef struct dlt__chart {
    const char *title, *xlabel, *ylabel;
    const dlt__series *series;
    int nseries;
    int stacked;             /* stack the series as filled areas (same x for all) */
    int zero_based;          /* y axis starts at 0 */
    double y_scale;          /* multiply y values for display (e.g. 1e3 for ms); 0 = 1 */
} dlt__chart;

/* Write one <svg> element (width x height pixels). An empty chart says so. */
void dlt__svg_chart(FILE *f, const dlt__chart *c, int width, int height);
/* Palette color I (cycles). */
const char *dlt__svg_color(int i);

#endif
