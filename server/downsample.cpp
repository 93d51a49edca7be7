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

// The points one bucket keeps: its lowest and highest value (NaN counts as highest, -Infinity as
// lowest) and, besides them, the first point of every non-finite kind the bucket holds, so that a
// bucket with both +Infinity and NaN shows both.
int pickBucket(const double *values, qsizetype begin, qsizetype end, qsizetype picks[5])
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
    std::sort(picks, picks + count);
    return count;
}

qsizetype countFor(const double *values, qsizetype n, qsizetype buckets)
{
    qsizetype total = 0;
    qsizetype picks[5];
    for (qsizetype b = 0; b < buckets; ++b) {
        const qsizetype begin = n * b / buckets;
        const qsizetype end = n * (b + 1) / buckets;
        if (begin < end)
            total += pickBucket(values, begin, end, picks);
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
    // Two points per bucket fill the budget exactly; buckets holding non-finite values may need
    // more, and then fewer, wider buckets are used (rare: only series with NaN or Infinity).
    qsizetype buckets = maxPoints / 2;
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
    qsizetype picks[5];
    for (qsizetype b = 0; b < buckets; ++b) {
        const qsizetype begin = n * b / buckets;
        const qsizetype end = n * (b + 1) / buckets;
        if (begin >= end)
            continue;
        const int count = pickBucket(values, begin, end, picks);
        for (int k = 0; k < count; ++k)
            out.append(picks[k]);
    }
    // A single bucket can still hold more kinds than a tiny budget: keep the rarest first.
    if (out.size() > maxPoints) {
        std::stable_sort(out.begin(), out.end(), [values](qsizetype a, qsizetype b) {
            static const int priority[4] = {2, 3, 1, 0}; // NaN, +Inf, -Inf, then finite
            return priority[rank(values[a])] < priority[rank(values[b])];
        });
        out.resize(maxPoints);
        std::sort(out.begin(), out.end());
    }
    return out;
}

} // namespace Runwatch
