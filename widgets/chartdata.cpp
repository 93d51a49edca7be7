#include "chartdata.h"

#include "runstate.h"

#include <algorithm>
#include <cmath>

namespace Runwatch::ChartData {

QVector<double> smooth(const QVector<double> &values, double weight)
{
    if (qBound(0.0, weight, 0.999) <= 0)
        return values;
    QVector<double> out;
    SmoothState state;
    smoothAppend(values, weight, &out, &state);
    return out;
}

void smoothAppend(const QVector<double> &values, double weight, QVector<double> *out, SmoothState *state)
{
    weight = qBound(0.0, weight, 0.999);
    qsizetype i = out->size();
    if (i >= values.size())
        return;
    out->resize(values.size());
    double *o = out->data();
    const double *in = values.constData();
    if (weight <= 0) {
        std::copy(in + i, in + values.size(), o + i);
        return;
    }
    double average = state->average;
    double correction = state->correction;
    for (; i < values.size(); ++i) {
        const double v = in[i];
        if (!std::isfinite(v)) {
            o[i] = v;
            continue;
        }
        average = weight * average + (1 - weight) * v;
        correction *= weight;
        o[i] = average / (1 - correction);
    }
    state->average = average;
    state->correction = correction;
}

QList<QPointF> decimate(const QVector<double> &xs, const QVector<double> &values, double xMin, double xMax,
                        int columns, QVector<NonFinite> *nonFinite)
{
    QList<QPointF> out;
    const qsizetype n = qMin(xs.size(), values.size());
    if (n == 0 || !(xMax >= xMin))
        return out;
    const qsizetype begin = std::lower_bound(xs.cbegin(), xs.cbegin() + n, xMin) - xs.cbegin();
    const qsizetype end = std::upper_bound(xs.cbegin(), xs.cbegin() + n, xMax) - xs.cbegin();
    // One point either side of the range, so the line runs to the plot's edges.
    const qsizetype from = qMax<qsizetype>(0, begin - 1);
    const qsizetype to = qMin(n, end + 1);
    columns = qMax(1, columns);
    const double span = xMax > xMin ? xMax - xMin : 1.0;

    if (to - from <= qsizetype(columns) * 4) {
        out.reserve(to - from);
        for (qsizetype i = from; i < to; ++i) {
            const double v = values.at(i);
            if (std::isfinite(v))
                out.append(QPointF(xs.at(i), v));
            else if (nonFinite && i >= begin && i < end)
                nonFinite->append({xs.at(i), std::isnan(v) ? 0 : (v > 0 ? 1 : -1)});
        }
        return out;
    }

    out.reserve(columns * 4 + 2);
    qsizetype first = -1, low = -1, high = -1, last = -1;
    qint64 column = LLONG_MIN;
    int lastNonFiniteKinds = 0; // bit set of kinds marked in the current column
    auto flush = [&] {
        if (first < 0)
            return;
        qsizetype picks[4] = {first, low, high, last};
        std::sort(picks, picks + 4);
        qsizetype previous = -1;
        for (qsizetype p : picks) {
            if (p != previous)
                out.append(QPointF(xs.at(p), values.at(p)));
            previous = p;
        }
        first = low = high = last = -1;
    };
    for (qsizetype i = from; i < to; ++i) {
        const double x = xs.at(i);
        const double v = values.at(i);
        qint64 c = qint64(std::floor((x - xMin) / span * columns));
        if (x >= xMin && x <= xMax)
            c = qBound(qint64(0), c, qint64(columns) - 1); // x == xMax belongs to the last column
        if (c != column) {
            flush();
            column = c;
            lastNonFiniteKinds = 0;
        }
        if (!std::isfinite(v)) {
            const int kind = std::isnan(v) ? 0 : (v > 0 ? 1 : -1);
            const int bit = 1 << (kind + 1);
            if (nonFinite && i >= begin && i < end && !(lastNonFiniteKinds & bit)) {
                nonFinite->append({x, kind}); // one marker per kind and pixel column is enough
                lastNonFiniteKinds |= bit;
            }
            continue;
        }
        if (first < 0) {
            first = low = high = last = i;
            continue;
        }
        if (v < values.at(low))
            low = i;
        if (v > values.at(high))
            high = i;
        last = i;
    }
    flush();
    return out;
}

QVector<double> xValues(const MetricSeries &series, bool byTime, qint64 originMs)
{
    QVector<double> xs(series.size());
    for (qsizetype i = 0; i < series.size(); ++i)
        xs[i] = byTime ? double(series.tsMs.at(i) - originMs) / 1000.0 : double(series.steps.at(i));
    return xs;
}

} // namespace Runwatch::ChartData
