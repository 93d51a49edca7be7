#include "downsample.h"

#include <cmath>

namespace Runwatch {

namespace {

int rank(double v)
{
    if (std::isnan(v))
        return 3;
    if (std::isinf(v))
        return v > 0 ? 2 : 0;
    return 1;
}

} // namespace

bool extremeLess(double a, double b)
{
    const int ra = rank(a), rb = rank(b);
    if (ra != rb)
        return ra < rb;
    return ra == 1 && a < b;
}

QVector<qsizetype> downsampleMinMax(const double *values, qsizetype n, qsizetype maxPoints)
{
    QVector<qsizetype> out;
    if (maxPoints <= 0 || n <= maxPoints) {
        out.reserve(n);
        for (qsizetype i = 0; i < n; ++i)
            out.append(i);
        return out;
    }
    const qsizetype buckets = qMax<qsizetype>(1, maxPoints / 2);
    out.reserve(buckets * 2);
    for (qsizetype b = 0; b < buckets; ++b) {
        const qsizetype begin = n * b / buckets;
        const qsizetype end = n * (b + 1) / buckets;
        if (begin >= end)
            continue;
        qsizetype lo = begin, hi = begin;
        for (qsizetype i = begin + 1; i < end; ++i) {
            if (extremeLess(values[i], values[lo]))
                lo = i;
            if (extremeLess(values[hi], values[i]))
                hi = i;
        }
        if (lo == hi) {
            out.append(lo);
        } else {
            out.append(qMin(lo, hi));
            out.append(qMax(lo, hi));
        }
    }
    return out;
}

} // namespace Runwatch
