// Unit tests of the min/max downsampler behind GET /api/runs/{run}/metrics/{name}?max_points=N
// (protocol.md: "downsampled to at most max_points, keeping each bucket's min and max"), with
// the non-finite values of a diverging loss that a user must always see.

#include "downsample.h"

#include <QRandomGenerator>
#include <QSet>
#include <QTest>

#include <cmath>
#include <limits>

using namespace Runwatch;

namespace {

const double Inf = std::numeric_limits<double>::infinity();
const double NaN = std::numeric_limits<double>::quiet_NaN();

using Values = QVector<double>;
using Indices = QVector<qsizetype>;

Indices run(const Values &values, qsizetype maxPoints)
{
    return downsampleMinMax(values.constData(), values.size(), maxPoints);
}

// The reference order of the header: -Infinity < finite < +Infinity < NaN.
int rankOf(double v)
{
    if (std::isnan(v))
        return 3;
    if (std::isinf(v))
        return v > 0 ? 2 : 0;
    return 1;
}

bool refLess(double a, double b)
{
    if (rankOf(a) != rankOf(b))
        return rankOf(a) < rankOf(b);
    return rankOf(a) == 1 && a < b;
}

bool sameValue(double a, double b)
{
    return !refLess(a, b) && !refLess(b, a);
}

QString describe(const Indices &indices)
{
    QStringList parts;
    for (qsizetype i : indices.mid(0, 40))
        parts.append(QString::number(i));
    if (indices.size() > 40)
        parts.append(QStringLiteral("..."));
    return parts.join(QLatin1Char(','));
}

// Checks every promise the downsampler makes for one input; returns an empty string when all hold.
QString checkAll(const Values &values, qsizetype maxPoints, const Indices &out)
{
    const qsizetype n = values.size();
    // Everything kept when it fits (or when no limit is asked for).
    if (maxPoints <= 0 || n <= maxPoints) {
        if (out.size() != n)
            return QStringLiteral("kept %1 of %2 although they fit").arg(out.size()).arg(n);
        for (qsizetype i = 0; i < n; ++i) {
            if (out.at(i) != i)
                return QStringLiteral("index %1 is %2").arg(i).arg(out.at(i));
        }
        return {};
    }
    if (out.size() > maxPoints)
        return QStringLiteral("%1 points for max_points %2: %3").arg(out.size()).arg(maxPoints).arg(describe(out));
    if (out.isEmpty())
        return QStringLiteral("no points at all for n = %1").arg(n);
    for (qsizetype i = 0; i < out.size(); ++i) {
        if (out.at(i) < 0 || out.at(i) >= n)
            return QStringLiteral("index %1 out of range").arg(out.at(i));
        if (i > 0 && out.at(i) <= out.at(i - 1))
            return QStringLiteral("indices not ascending and unique: %1").arg(describe(out));
    }

    if (maxPoints == 1) {
        // One point cannot hold both extremes; it must at least show a non-finite value if any.
        bool anyNonFinite = false;
        for (double v : values)
            anyNonFinite = anyNonFinite || !std::isfinite(v);
        if (anyNonFinite && std::isfinite(values.at(out.at(0))))
            return QStringLiteral("the single point kept is finite although the series is not");
        return {};
    }

    QSet<qsizetype> kept;
    for (qsizetype i : out)
        kept.insert(i);
    auto keptValue = [&](qsizetype begin, qsizetype end, double v) {
        for (qsizetype i = begin; i < end; ++i) {
            if (kept.contains(i) && sameValue(values.at(i), v))
                return true;
        }
        return false;
    };

    // Global minimum and maximum (in the header's order) always kept.
    double globalMin = values.at(0), globalMax = values.at(0);
    for (double v : values) {
        if (refLess(v, globalMin))
            globalMin = v;
        if (refLess(globalMax, v))
            globalMax = v;
    }
    if (!keptValue(0, n, globalMin))
        return QStringLiteral("global minimum %1 dropped").arg(globalMin);
    if (!keptValue(0, n, globalMax))
        return QStringLiteral("global maximum %1 dropped").arg(globalMax);

    // The first and the last point, whenever the budget holds them besides the extremes: 4 or more,
    // 7 or more when NaN or Infinity may crowd a single bucket.
    bool anyNonFinite = false;
    for (double v : values)
        anyNonFinite = anyNonFinite || !std::isfinite(v);
    if (maxPoints >= 4 && (!anyNonFinite || maxPoints >= 7)) {
        if (!kept.contains(0))
            return QStringLiteral("the first point was dropped: %1").arg(describe(out));
        if (!kept.contains(n - 1))
            return QStringLiteral("the last point was dropped: %1").arg(describe(out));
    }

    // Each bucket's minimum and maximum: (maxPoints - 2)/2 equal-width index buckets (the two ends
    // take the rest). A series with non-finite values may need more than two points in a bucket
    // (one of each non-finite kind besides the extremes); then the documented rule uses the largest
    // bucket count whose points fit the budget. The count is worked out here from the rule itself,
    // point by point.
    qsizetype buckets = qMax<qsizetype>(1, (maxPoints - 2) / 2);
    if (anyNonFinite) {
        auto pointsFor = [&](qsizetype count) {
            qsizetype total = 0;
            for (qsizetype b = 0; b < count; ++b) {
                const qsizetype begin = n * b / count;
                const qsizetype end = n * (b + 1) / count;
                if (begin >= end)
                    continue;
                // Distinct points: the extremes, each non-finite kind that is not an extreme, and
                // the series' first (last) point in the first (last) bucket when it is neither.
                QSet<qsizetype> picks;
                qsizetype loAt = begin, hiAt = begin;
                qsizetype kindAt[3] = {-1, -1, -1};
                for (qsizetype i = begin; i < end; ++i) {
                    const double v = values.at(i);
                    if (refLess(v, values.at(loAt)))
                        loAt = i;
                    if (refLess(values.at(hiAt), v))
                        hiAt = i;
                    const int kind = std::isnan(v) ? 0 : v == Inf ? 1 : v == -Inf ? 2 : -1;
                    if (kind >= 0 && kindAt[kind] < 0)
                        kindAt[kind] = i;
                }
                picks << loAt << hiAt;
                for (qsizetype at : kindAt) {
                    if (at >= 0)
                        picks << at;
                }
                if (begin == 0)
                    picks << 0;
                if (end == n)
                    picks << n - 1;
                total += picks.size();
            }
            return total;
        };
        while (buckets > 1 && pointsFor(buckets) > maxPoints)
            --buckets;
    }
    for (qsizetype b = 0; b < buckets; ++b) {
        const qsizetype begin = n * b / buckets;
        const qsizetype end = n * (b + 1) / buckets;
        if (begin >= end)
            continue;
        double lo = values.at(begin), hi = values.at(begin);
        for (qsizetype i = begin; i < end; ++i) {
            if (refLess(values.at(i), lo))
                lo = values.at(i);
            if (refLess(hi, values.at(i)))
                hi = values.at(i);
        }
        if (!keptValue(begin, end, lo))
            return QStringLiteral("bucket %1 [%2,%3): minimum %4 dropped").arg(b).arg(begin).arg(end).arg(lo);
        if (!keptValue(begin, end, hi))
            return QStringLiteral("bucket %1 [%2,%3): maximum %4 dropped").arg(b).arg(begin).arg(end).arg(hi);
    }

    // Non-finite values are never dropped: every kind (NaN, +Infinity, -Infinity) present in the
    // input is present in the output.
    for (double special : {NaN, Inf, -Inf}) {
        bool present = false;
        for (double v : values)
            present = present || sameValue(v, special);
        if (present && !keptValue(0, n, special))
            return QStringLiteral("%1 present in the input but dropped").arg(special);
    }
    return {};
}

Values randomWalk(QRandomGenerator &rng, qsizetype n)
{
    Values values;
    values.reserve(n);
    double v = 0;
    for (qsizetype i = 0; i < n; ++i) {
        v += rng.generateDouble() - 0.5;
        values.append(v);
    }
    return values;
}

} // namespace

class TestDownsample : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void extremeOrder();
    void keepsAllWhenItFits_data();
    void keepsAllWhenItFits();
    void fixedCases_data();
    void fixedCases();
    void nonFiniteNeverDropped_data();
    void nonFiniteNeverDropped();
    void randomAgainstReference_data();
    void randomAgainstReference();
    void constantSeries();
};

void TestDownsample::extremeOrder()
{
    QVERIFY(extremeLess(-Inf, -1e308));
    QVERIFY(extremeLess(-1.0, 1.0));
    QVERIFY(extremeLess(1e308, Inf));
    QVERIFY(extremeLess(Inf, NaN));
    QVERIFY(extremeLess(-Inf, NaN));
    QVERIFY(!extremeLess(NaN, NaN));
    QVERIFY(!extremeLess(Inf, Inf));
    QVERIFY(!extremeLess(1.0, 1.0));
    QVERIFY(!extremeLess(NaN, 0.0));
    QVERIFY(!extremeLess(0.0, -Inf));
}

void TestDownsample::keepsAllWhenItFits_data()
{
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("maxPoints");
    QTest::newRow("empty") << 0 << 10;
    QTest::newRow("empty, no limit") << 0 << 0;
    QTest::newRow("one of one") << 1 << 1;
    QTest::newRow("fewer") << 5 << 10;
    QTest::newRow("exactly") << 10 << 10;
    QTest::newRow("no limit (0)") << 1000 << 0;
    QTest::newRow("no limit (-1)") << 1000 << -1;
    QTest::newRow("large, fits") << 5000 << 5000;
}

void TestDownsample::keepsAllWhenItFits()
{
    QFETCH(int, n);
    QFETCH(int, maxPoints);
    QRandomGenerator rng(42);
    const Values values = randomWalk(rng, n);
    const Indices out = run(values, maxPoints);
    QCOMPARE(out.size(), qsizetype(n));
    for (int i = 0; i < n; ++i)
        QCOMPARE(out.at(i), qsizetype(i));
}

void TestDownsample::fixedCases_data()
{
    QTest::addColumn<Values>("values");
    QTest::addColumn<int>("maxPoints");

    QTest::newRow("ramp 10 -> 4") << Values{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} << 4;
    QTest::newRow("ramp 10 -> 1") << Values{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} << 1;
    QTest::newRow("ramp 10 -> 2") << Values{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} << 2;
    QTest::newRow("ramp 10 -> 3") << Values{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} << 3;
    QTest::newRow("ramp 10 -> 9") << Values{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} << 9;
    QTest::newRow("two values -> 1") << Values{5, 1} << 1;
    QTest::newRow("spike in the middle") << Values{1, 1, 1, 1, 100, 1, 1, 1, 1, 1, 1, 1} << 4;
    // The ends are neither the lowest nor the highest of their buckets: kept all the same.
    QTest::newRow("ends inside their buckets") << Values{5, 0, 10, 0, 10, 0, 10, 0, 10, 0, 10, 5} << 6;
    QTest::newRow("ends inside, long") << Values{3, 9, -9, 9, -9, 9, -9, 9, -9, 9, -9, 9, -9, 9, -9, 9, -9, 9, -9, 2} << 10;
    QTest::newRow("dip in the middle") << Values{1, 1, 1, 1, -100, 1, 1, 1, 1, 1, 1, 1} << 4;
    QTest::newRow("zigzag 20 -> 6") << Values{0, 9, 1, 8, 2, 7, 3, 6, 4, 5, 5, 4, 6, 3, 7, 2, 8, 1, 9, 0} << 6;
    QTest::newRow("odd max_points 11 -> 5") << Values{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5} << 5;
    QTest::newRow("odd max_points 7 -> 7 of 8") << Values{3, 1, 4, 1, 5, 9, 2, 6} << 7;
    QTest::newRow("NaN only") << Values{NaN, NaN, NaN, NaN, NaN} << 2;
    QTest::newRow("NaN with 1 point budget") << Values{1, 2, NaN, 3, 4} << 1;
}

void TestDownsample::fixedCases()
{
    QFETCH(Values, values);
    QFETCH(int, maxPoints);
    const Indices out = run(values, maxPoints);
    const QString problem = checkAll(values, maxPoints, out);
    QVERIFY2(problem.isEmpty(), qPrintable(problem + QStringLiteral(" | kept: ") + describe(out)));
}

void TestDownsample::nonFiniteNeverDropped_data()
{
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("maxPoints");
    QTest::addColumn<QVector<int>>("positions");
    QTest::addColumn<Values>("specials"); // placed at positions, in order

    QTest::newRow("one NaN") << 1000 << 50 << QVector<int>{517} << Values{NaN};
    QTest::newRow("one +Infinity") << 1000 << 50 << QVector<int>{3} << Values{Inf};
    QTest::newRow("one -Infinity") << 1000 << 50 << QVector<int>{999} << Values{-Inf};
    QTest::newRow("NaN at the start") << 1000 << 20 << QVector<int>{0} << Values{NaN};
    QTest::newRow("NaN at the end") << 1000 << 20 << QVector<int>{999} << Values{NaN};
    QTest::newRow("all three far apart") << 1000 << 100 << QVector<int>{100, 500, 900} << Values{NaN, Inf, -Inf};
    QTest::newRow("diverging tail") << 1000 << 100 << QVector<int>{990, 991, 992, 993, 994, 995, 996, 997, 998, 999}
                                    << Values{Inf, Inf, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN};
    QTest::newRow("+Inf and -Inf side by side") << 1000 << 100 << QVector<int>{400, 401} << Values{Inf, -Inf};
    QTest::newRow("NaN, +Inf and -Inf side by side") << 1000 << 100 << QVector<int>{400, 401, 402}
                                                     << Values{NaN, Inf, -Inf};
    QTest::newRow("NaN and +Inf side by side") << 10000 << 200 << QVector<int>{7000, 7001} << Values{NaN, Inf};
    QTest::newRow("tight budget, one NaN") << 100000 << 4 << QVector<int>{54321} << Values{NaN};
}

void TestDownsample::nonFiniteNeverDropped()
{
    QFETCH(int, n);
    QFETCH(int, maxPoints);
    QFETCH(QVector<int>, positions);
    QFETCH(Values, specials);
    QCOMPARE(positions.size(), specials.size());

    QRandomGenerator rng(1234);
    Values values = randomWalk(rng, n);
    for (int i = 0; i < positions.size(); ++i)
        values[positions.at(i)] = specials.at(i);
    const Indices out = run(values, maxPoints);
    const QString problem = checkAll(values, maxPoints, out);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void TestDownsample::randomAgainstReference_data()
{
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("maxPoints");
    QTest::addColumn<bool>("nonFinite"); // NaN / +Inf / -Inf mixed in, one per chosen bucket
    QTest::addColumn<quint32>("seed");

    const int sizes[] = {3, 10, 97, 1000, 4099, 100000};
    const int limits[] = {2, 4, 7, 10, 64, 500, 2048};
    quint32 seed = 1;
    for (int n : sizes) {
        for (int m : limits) {
            if (m >= n)
                continue;
            QTest::addRow("n=%d max=%d finite", n, m) << n << m << false << seed++;
            QTest::addRow("n=%d max=%d sparse non-finite", n, m) << n << m << true << seed++;
        }
    }
}

void TestDownsample::randomAgainstReference()
{
    QFETCH(int, n);
    QFETCH(int, maxPoints);
    QFETCH(bool, nonFinite);
    QFETCH(quint32, seed);

    QRandomGenerator rng(seed);
    // Several shapes: random walk, white noise, noise with rare large spikes.
    for (int shape = 0; shape < 3; ++shape) {
        Values values;
        values.reserve(n);
        if (shape == 0) {
            values = randomWalk(rng, n);
        } else {
            for (int i = 0; i < n; ++i) {
                double v = rng.generateDouble() * 2 - 1;
                if (shape == 2 && rng.bounded(100) == 0)
                    v *= 1000;
                values.append(v);
            }
        }
        if (nonFinite) {
            // Few enough that no two land in one bucket: each then must survive.
            const double specials[] = {NaN, Inf, -Inf};
            const qsizetype buckets = qMax(1, maxPoints / 2);
            const qsizetype count = qMin<qsizetype>(3, qMax<qsizetype>(1, buckets / 4));
            for (qsizetype k = 0; k < count; ++k) {
                const qsizetype bucket = (buckets * (2 * k + 1)) / (2 * count);
                const qsizetype begin = qsizetype(n) * bucket / buckets;
                const qsizetype end = qsizetype(n) * (bucket + 1) / buckets;
                if (end > begin)
                    values[begin + qsizetype(rng.bounded(quint32(end - begin)))] = specials[k % 3];
            }
        }
        const Indices out = run(values, maxPoints);
        const QString problem = checkAll(values, maxPoints, out);
        QVERIFY2(problem.isEmpty(), qPrintable(QStringLiteral("shape %1: %2").arg(shape).arg(problem)));
    }
}

void TestDownsample::constantSeries()
{
    const Values values(1000, 3.5);
    const Indices out = run(values, 10);
    QVERIFY(!out.isEmpty());
    QVERIFY(out.size() <= 10);
    for (qsizetype i = 1; i < out.size(); ++i)
        QVERIFY(out.at(i) > out.at(i - 1));
}

QTEST_GUILESS_MAIN(TestDownsample)
#include "tst_downsample.moc"
