#include "downsample.h"

#include <algorithm>
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

namespace {

constexpr int MaxPicks = 7;

// The points one bucket keeps: its lowest and highest value (NaN counts as highest, -Infinity as
// lowest) and, besides them, the first point of every non-finite kind the bucket holds, so that a
// bucket with both +Infinity and NaN shows both. The first bucket also keeps the series' first
// point and the last bucket its last one: a thinned line starts and ends where the data does.
int pickBucket(const double *values, qsizetype begin, qsizetype end, qsizetype n, qsizetype picks[MaxPicks])
{
    qsizetype lo = begin, hi = begin;
    qsizetype firstOfKind[4] = {-1, -1, -1, -1};
    for (qsizetype i = begin; i < end; ++i) {
        const int r = rank(values[i]);
        if (r != 1 && firstOfKind[r] < 0)
            firstOfKind[r] = i;
        if (extremeLess(values[i], values[lo]))
            lo = i;
        if (extremeLess(values[hi], values[i]))
            hi = i;
    }
    int count = 0;
    auto add = [&](qsizetype index) {
        if (index < 0)
            return;
        for (int k = 0; k < count; ++k) {
            if (picks[k] == index)
                return;
        }
        picks[count++] = index;
    };
    add(lo);
    add(hi);
    for (qsizetype index : firstOfKind)
        add(index);
    if (begin == 0)
        add(0);
    if (end == n)
        add(n - 1);
    std::sort(picks, picks + count);
    return count;
}

qsizetype countFor(const double *values, qsizetype n, qsizetype buckets)
{
    qsizetype total = 0;
    qsizetype picks[MaxPicks];
    for (qsizetype b = 0; b < buckets; ++b) {
        const qsizetype begin = n * b / buckets;
        const qsizetype end = n * (b + 1) / buckets;
        if (begin < end)
            total += pickBucket(values, begin, end, n, picks);
    }
    return total;
}

} // namespace

QVector<qsizetype> downsampleMinMax(const double *values, qsizetype n, qsizetype maxPoints)
{
    QVector<qsizetype> out;
    if (maxPoints <= 0 || n <= maxPoints) {
        out.reserve(n);
        for (qsizetype i = 0; i < n; ++i)
            out.append(i);
        return out;
    }
    if (maxPoints == 1) {
        // One point: the most alarming one (NaN, then +Infinity, then -Infinity), else the highest.
        qsizetype best = 0;
        for (qsizetype i = 1; i < n; ++i) {
            if (extremeLess(values[best], values[i]))
                best = i;
        }
        if (rank(values[best]) != 3 && rank(values[best]) != 2) {
            for (qsizetype i = 0; i < n; ++i) {
                if (rank(values[i]) == 0) {
                    best = i;
                    break;
                }
            }
        }
        out.append(best);
        return out;
    }
    // Two points per bucket and the two ends fill the budget; buckets holding non-finite values
    // may need more, and then fewer, wider buckets are used (rare: only series with NaN or Infinity).
    qsizetype buckets = qMax<qsizetype>(1, (maxPoints - 2) / 2);
    if (countFor(values, n, buckets) > maxPoints) {
        qsizetype good = 1, bad = buckets;
        while (bad - good > 1) {
            const qsizetype mid = good + (bad - good) / 2;
            if (countFor(values, n, mid) <= maxPoints)
                good = mid;
            else
                bad = mid;
        }
        buckets = good;
    }
    out.reserve(maxPoints);
    qsizetype picks[MaxPicks];
    for (qsizetype b = 0; b < buckets; ++b) {
        const qsizetype begin = n * b / buckets;
        const qsizetype end = n * (b + 1) / buckets;
        if (begin >= end)
            continue;
        const int count = pickBucket(values, begin, end, n, picks);
        for (int k = 0; k < count; ++k)
            out.append(picks[k]);
    }
    // A single bucket (the whole series) can still hold more than a tiny budget: keep the
    // non-finite kinds first (NaN, +Infinity, -Infinity), then the extremes, then the ends.
    if (out.size() > maxPoints) {
        qsizetype lo = 0, hi = 0;
        for (qsizetype i = 1; i < n; ++i) {
            if (extremeLess(values[i], values[lo]))
                lo = i;
            if (extremeLess(values[hi], values[i]))
                hi = i;
        }
        std::stable_sort(out.begin(), out.end(), [values, n, lo, hi](qsizetype a, qsizetype b) {
            static const int priority[4] = {1, 0, 2, 3}; // by rank (-Inf, finite, +Inf, NaN), higher kept first
            auto key = [&](qsizetype i) {
                return priority[rank(values[i])] * 4 + ((i == lo || i == hi) ? 2 : 0) + ((i == 0 || i == n - 1) ? 1 : 0);
            };
            return key(a) > key(b);
        });
        out.resize(maxPoints);
        std::sort(out.begin(), out.end());
    }
    return out;
}

} // namespace Runwatch
