#pragma once

#include <QList>
#include <QPointF>
#include <QVector>

namespace Runwatch {

struct MetricSeries;

namespace ChartData {

// Exponential moving average with bias correction (the first points are not pulled towards 0),
// weight 0 = raw. Non-finite inputs are passed through and do not disturb the average.
QVector<double> smooth(const QVector<double> &values, double weight);

// The running state of smooth(), so that a growing series is smoothed only where it grew.
struct SmoothState {
    double average = 0;
    double correction = 1;
};
// Appends to *out the smoothed values of values[out->size()...], continuing from *state (a fresh
// state and an empty *out give smooth(values, weight)).
void smoothAppend(const QVector<double> &values, double weight, QVector<double> *out, SmoothState *state);

struct NonFinite {
    double x;
    int kind; // -1: -Infinity, +1: +Infinity, 0: NaN
};

// Points to draw for the part of a series with xMin <= x <= xMax, for a plot `columns` pixels
// wide: per pixel column the first, lowest, highest and last point (so no spike is lost and the
// line looks the same as with every point), at most 4 per column. Non-finite values are not
// drawn as line points; they come back in `nonFinite` so the chart can mark them.
// xs must be ascending; values parallel to it.
QList<QPointF> decimate(const QVector<double> &xs, const QVector<double> &values, double xMin, double xMax,
                        int columns, QVector<NonFinite> *nonFinite = nullptr);

// x of every point: the step, or seconds since `originMs` when byTime.
QVector<double> xValues(const MetricSeries &series, bool byTime, qint64 originMs);

} // namespace ChartData
} // namespace Runwatch
