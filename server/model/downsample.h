#pragma once

#include <QVector>

namespace Runwatch {

// Orders values so that the extremes of a bucket include non-finite points: -Infinity is the
// smallest, +Infinity and NaN the largest (NaN above +Infinity), so a diverging loss is never
// decimated away.
bool extremeLess(double a, double b);

// Picks at most maxPoints indices of values (ascending), keeping the minimum and maximum of
// each of maxPoints/2 equal-width index buckets. maxPoints <= 0 or n <= maxPoints keeps all.
QVector<qsizetype> downsampleMinMax(const double *values, qsizetype n, qsizetype maxPoints);

} // namespace Runwatch
