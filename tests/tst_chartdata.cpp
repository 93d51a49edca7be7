// Tests for widgets/chartdata.h: EMA smoothing, per-pixel-column decimation and x values.
#include "chartdata.h"
#include "runstate.h"

#include <QHash>
#include <QRandomGenerator>
#include <QSet>
#include <QTest>

#include <cmath>
#include <limits>

using namespace Runwatch;

namespace {

constexpr double NaN = std::numeric_limits<double>::quiet_NaN();
constexpr double Inf = std::numeric_limits<double>::infinity();

// Same-ness for doubles that may be non-finite: NaN equals NaN, infinities by sign.
bool sameValue(double a, double b, double tolerance)
{
    if (std::isnan(a) || std::isnan(b))
        return std::isnan(a) && std::isnan(b);
    if (std::isinf(a) || std::isinf(b))
        return a == b;
    return std::fabs(a - b) <= tolerance * qMax(1.0, std::fabs(b));
}

int kindOf(double v)
{
    return std::isnan(v) ? 0 : (v > 0 ? 1 : -1);
}

// The textbook bias-corrected EMA over the finite values, written independently of the code
// under test: s_k = w*s_{k-1} + (1-w)*v_k, shown as s_k / (1 - w^k), k counting finite values.
QVector<double> referenceSmooth(const QVector<double> &values, double weight)
{
    QVector<double> out;
    out.reserve(values.size());
    double s = 0;
    int k = 0;
    for (double v : values) {
        if (!std::isfinite(v)) {
            out.append(v);
            continue;
        }
        ++k;
        s = weight * s + (1 - weight) * v;
        out.append(s / (1 - std::pow(weight, k)));
    }
    return out;
}

// Pixel column of x for a plot [xMin, xMax] that is `columns` pixels wide; the right edge
// (x == xMax) belongs to the last column. -1 / columns for points outside the range.
int columnOf(double x, double xMin, double xMax, int columns)
{
    if (x < xMin)
        return -1;
    if (x > xMax)
        return columns;
    const double span = xMax > xMin ? xMax - xMin : 1.0;
    return qBound(0, int(std::floor((x - xMin) / span * columns)), columns - 1);
}

struct Series {
    QVector<double> xs;
    QVector<double> values;
};

// Strictly ascending x with irregular gaps, values a noisy random walk with occasional spikes.
Series randomSeries(qsizetype n, quint32 seed, double nonFiniteShare = 0.0)
{
    QRandomGenerator rng(seed);
    Series s;
    s.xs.reserve(n);
    s.values.reserve(n);
    double x = rng.bounded(10.0);
    double walk = 0;
    for (qsizetype i = 0; i < n; ++i) {
        x += 0.01 + rng.bounded(2.0);
        walk += rng.bounded(2.0) - 1.0;
        double v = walk + rng.bounded(1.0);
        if (rng.bounded(1000) == 0)
            v += (rng.bounded(2) ? 1 : -1) * (100 + rng.bounded(1000.0)); // a spike
        if (nonFiniteShare > 0 && rng.generateDouble() < nonFiniteShare) {
            switch (rng.bounded(3)) {
            case 0: v = NaN; break;
            case 1: v = Inf; break;
            default: v = -Inf; break;
            }
        }
        s.xs.append(x);
        s.values.append(v);
    }
    return s;
}

QString describe(const QPointF &p)
{
    return QStringLiteral("(%1, %2)").arg(p.x(), 0, 'g', 17).arg(p.y(), 0, 'g', 17);
}

} // namespace

class TestChartData : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void smoothFirstOutputIsFirstInput_data();
    void smoothFirstOutputIsFirstInput();
    void smoothConstantStaysConstant_data();
    void smoothConstantStaysConstant();
    void smoothWeightZeroReturnsInput();
    void smoothMatchesReference_data();
    void smoothMatchesReference();
    void smoothPassesNonFiniteThrough_data();
    void smoothPassesNonFiniteThrough();
    void smoothEmpty();

    void decimateReturnsEveryPointWhenItFits();
    void decimateEmptyAndInvertedRange();
    void decimateBoundsPointsPerColumn_data();
    void decimateBoundsPointsPerColumn();
    void decimateKeepsColumnMinMax_data();
    void decimateKeepsColumnMinMax();
    void decimateNonFinite_data();
    void decimateNonFinite();
    void decimateNonFiniteWhenItFits();
    void decimateRangeNeighbours_data();
    void decimateRangeNeighbours();

    void xValuesStepAndTime();
};

// ---------------------------------------------------------------------------------------------
// smooth

void TestChartData::smoothFirstOutputIsFirstInput_data()
{
    QTest::addColumn<double>("weight");
    QTest::addColumn<double>("first");
    QTest::newRow("w0.1") << 0.1 << 3.5;
    QTest::newRow("w0.6") << 0.6 << 3.5;
    QTest::newRow("w0.9") << 0.9 << -12.25;
    QTest::newRow("w0.99") << 0.99 << 1e6;
    QTest::newRow("w0.999") << 0.999 << 0.001;
}

void TestChartData::smoothFirstOutputIsFirstInput()
{
    QFETCH(double, weight);
    QFETCH(double, first);
    const QVector<double> values{first, first * 2 + 1, -first, 7.0};
    const QVector<double> out = ChartData::smooth(values, weight);
    QCOMPARE(out.size(), values.size());
    QVERIFY2(sameValue(out.first(), first, 1e-12),
             qPrintable(QStringLiteral("first output %1, first input %2").arg(out.first(), 0, 'g', 17).arg(first, 0, 'g', 17)));
}

void TestChartData::smoothConstantStaysConstant_data()
{
    QTest::addColumn<double>("weight");
    QTest::addColumn<double>("value");
    QTest::newRow("w0.3") << 0.3 << 0.42;
    QTest::newRow("w0.6") << 0.6 << 2.0;
    QTest::newRow("w0.95") << 0.95 << -7.5;
    QTest::newRow("w0.999") << 0.999 << 123.456;
}

void TestChartData::smoothConstantStaysConstant()
{
    QFETCH(double, weight);
    QFETCH(double, value);
    const QVector<double> values(5000, value);
    const QVector<double> out = ChartData::smooth(values, weight);
    QCOMPARE(out.size(), values.size());
    for (qsizetype i = 0; i < out.size(); ++i) {
        if (!sameValue(out.at(i), value, 1e-12))
            QFAIL(qPrintable(QStringLiteral("index %1: %2 instead of %3").arg(i).arg(out.at(i), 0, 'g', 17).arg(value, 0, 'g', 17)));
    }
}

void TestChartData::smoothWeightZeroReturnsInput()
{
    const Series s = randomSeries(1000, 7);
    QCOMPARE(ChartData::smooth(s.values, 0.0), s.values);
    // Non-finite values come back unchanged as well.
    const QVector<double> odd{1.0, NaN, Inf, -Inf, 2.0};
    const QVector<double> out = ChartData::smooth(odd, 0.0);
    QCOMPARE(out.size(), odd.size());
    for (qsizetype i = 0; i < odd.size(); ++i)
        QVERIFY2(sameValue(out.at(i), odd.at(i), 0), qPrintable(QStringLiteral("index %1").arg(i)));
}

void TestChartData::smoothMatchesReference_data()
{
    QTest::addColumn<double>("weight");
    QTest::addColumn<quint32>("seed");
    QTest::newRow("w0.05") << 0.05 << 1u;
    QTest::newRow("w0.3") << 0.3 << 2u;
    QTest::newRow("w0.6") << 0.6 << 3u;
    QTest::newRow("w0.9") << 0.9 << 4u;
    QTest::newRow("w0.99") << 0.99 << 5u;
}

void TestChartData::smoothMatchesReference()
{
    QFETCH(double, weight);
    QFETCH(quint32, seed);
    QRandomGenerator rng(seed);
    QVector<double> values;
    for (int i = 0; i < 20000; ++i)
        values.append(rng.bounded(2.0) - 0.5);
    const QVector<double> out = ChartData::smooth(values, weight);
    const QVector<double> ref = referenceSmooth(values, weight);
    QCOMPARE(out.size(), ref.size());
    for (qsizetype i = 0; i < out.size(); ++i) {
        if (!(std::fabs(out.at(i) - ref.at(i)) <= 1e-12))
            QFAIL(qPrintable(QStringLiteral("index %1: %2, reference %3").arg(i).arg(out.at(i), 0, 'g', 17).arg(ref.at(i), 0, 'g', 17)));
    }
}

void TestChartData::smoothPassesNonFiniteThrough_data()
{
    QTest::addColumn<double>("weight");
    QTest::newRow("w0.5") << 0.5;
    QTest::newRow("w0.9") << 0.9;
}

void TestChartData::smoothPassesNonFiniteThrough()
{
    QFETCH(double, weight);
    QRandomGenerator rng(99);
    QVector<double> values;
    QVector<double> finiteOnly;
    for (int i = 0; i < 3000; ++i) {
        double v = rng.bounded(10.0);
        if (i == 0)
            v = NaN; // even the very first value
        else if (i % 97 == 0)
            v = NaN;
        else if (i % 131 == 0)
            v = Inf;
        else if (i % 173 == 0)
            v = -Inf;
        values.append(v);
        if (std::isfinite(v))
            finiteOnly.append(v);
    }
    const QVector<double> out = ChartData::smooth(values, weight);
    const QVector<double> smoothFinite = ChartData::smooth(finiteOnly, weight);
    const QVector<double> ref = referenceSmooth(finiteOnly, weight);
    QCOMPARE(out.size(), values.size());
    qsizetype f = 0;
    for (qsizetype i = 0; i < values.size(); ++i) {
        const double v = values.at(i);
        if (!std::isfinite(v)) {
            QVERIFY2(!std::isfinite(out.at(i)) && kindOf(out.at(i)) == kindOf(v),
                     qPrintable(QStringLiteral("index %1: non-finite input became %2").arg(i).arg(out.at(i))));
            continue;
        }
        // The finite points are smoothed exactly as if the non-finite ones were not there.
        QVERIFY2(std::isfinite(out.at(i)), qPrintable(QStringLiteral("index %1: finite input became %2").arg(i).arg(out.at(i))));
        if (!(std::fabs(out.at(i) - smoothFinite.at(f)) <= 1e-12) || !(std::fabs(out.at(i) - ref.at(f)) <= 1e-12))
            QFAIL(qPrintable(QStringLiteral("index %1: %2, without the non-finite points %3, reference %4")
                                 .arg(i).arg(out.at(i), 0, 'g', 17).arg(smoothFinite.at(f), 0, 'g', 17).arg(ref.at(f), 0, 'g', 17)));
        ++f;
    }
    // The first finite value after the leading NaN comes back as it is.
    QVERIFY(sameValue(out.at(1), values.at(1), 1e-12));
}

void TestChartData::smoothEmpty()
{
    QVERIFY(ChartData::smooth({}, 0.6).isEmpty());
}

// ---------------------------------------------------------------------------------------------
// decimate

void TestChartData::decimateReturnsEveryPointWhenItFits()
{
    const Series s = randomSeries(500, 11);
    QVector<ChartData::NonFinite> nonFinite;
    const QList<QPointF> out = ChartData::decimate(s.xs, s.values, s.xs.first(), s.xs.last(), 800, &nonFinite);
    QCOMPARE(out.size(), s.xs.size());
    for (qsizetype i = 0; i < out.size(); ++i) {
        QCOMPARE(out.at(i).x(), s.xs.at(i));
        QCOMPARE(out.at(i).y(), s.values.at(i));
    }
    QVERIFY(nonFinite.isEmpty());

    // Exactly 4 per column still fits.
    const Series t = randomSeries(400, 12);
    QCOMPARE(ChartData::decimate(t.xs, t.values, t.xs.first(), t.xs.last(), 100).size(), 400);
}

void TestChartData::decimateEmptyAndInvertedRange()
{
    QVERIFY(ChartData::decimate({}, {}, 0, 10, 100).isEmpty());
    const Series s = randomSeries(100, 13);
    QVERIFY(ChartData::decimate(s.xs, s.values, 10, 5, 100).isEmpty());
    QVERIFY(ChartData::decimate(s.xs, s.values, NaN, 5, 100).isEmpty());
}

void TestChartData::decimateBoundsPointsPerColumn_data()
{
    QTest::addColumn<qsizetype>("points");
    QTest::addColumn<int>("columns");
    QTest::addColumn<double>("fromFraction"); // the range as a fraction of the series' x span
    QTest::addColumn<double>("toFraction");
    QTest::addColumn<bool>("integerX");
    QTest::newRow("1M/800 full") << qsizetype(1000000) << 800 << 0.0 << 1.0 << false;
    QTest::newRow("1M/800 middle") << qsizetype(1000000) << 800 << 0.25 << 0.75 << false;
    QTest::newRow("1M/800 steps middle") << qsizetype(1000000) << 800 << 0.1 << 0.9 << true;
    QTest::newRow("50k/100 full steps") << qsizetype(50000) << 100 << 0.0 << 1.0 << true;
    QTest::newRow("20k/1 column") << qsizetype(20000) << 1 << 0.0 << 1.0 << false;
}

void TestChartData::decimateBoundsPointsPerColumn()
{
    QFETCH(qsizetype, points);
    QFETCH(int, columns);
    QFETCH(double, fromFraction);
    QFETCH(double, toFraction);
    QFETCH(bool, integerX);
    Series s = randomSeries(points, 21);
    if (integerX) {
        for (qsizetype i = 0; i < s.xs.size(); ++i)
            s.xs[i] = double(i);
    }
    const double span = s.xs.last() - s.xs.first();
    double xMin = s.xs.first() + span * fromFraction;
    double xMax = s.xs.first() + span * toFraction;
    if (integerX) {
        xMin = std::round(xMin);
        xMax = std::round(xMax); // a point sits exactly on each edge
    }
    const QList<QPointF> out = ChartData::decimate(s.xs, s.values, xMin, xMax, columns);
    QVERIFY(!out.isEmpty());
    QVERIFY2(out.size() <= qsizetype(columns) * 4 + 2,
             qPrintable(QStringLiteral("%1 points for %2 columns (at most %3)").arg(out.size()).arg(columns).arg(columns * 4 + 2)));
    QVector<int> perColumn(columns, 0);
    int outside = 0;
    for (const QPointF &p : out) {
        const int c = columnOf(p.x(), xMin, xMax, columns);
        if (c < 0 || c >= columns)
            ++outside;
        else
            ++perColumn[c];
    }
    QVERIFY2(outside <= 2, qPrintable(QStringLiteral("%1 points outside [xMin, xMax]").arg(outside)));
    for (int c = 0; c < columns; ++c) {
        QVERIFY2(perColumn.at(c) <= 4,
                 qPrintable(QStringLiteral("pixel column %1 of %2 has %3 points (range %4..%5)")
                                .arg(c).arg(columns).arg(perColumn.at(c)).arg(xMin, 0, 'g', 17).arg(xMax, 0, 'g', 17)));
    }
}

void TestChartData::decimateKeepsColumnMinMax_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::addColumn<double>("nonFiniteShare");
    QTest::newRow("seed 31") << 31u << 0.0;
    QTest::newRow("seed 32") << 32u << 0.0;
    QTest::newRow("seed 33 with non-finite") << 33u << 0.002;
}

void TestChartData::decimateKeepsColumnMinMax()
{
    QFETCH(quint32, seed);
    QFETCH(double, nonFiniteShare);
    const int columns = 800;
    const Series s = randomSeries(1000000, seed, nonFiniteShare);
    const double xMin = s.xs.first(), xMax = s.xs.last();
    const QList<QPointF> out = ChartData::decimate(s.xs, s.values, xMin, xMax, columns);
    QVERIFY(out.size() <= columns * 4 + 2);

    // x ascending (strictly: x is unique in the input).
    for (qsizetype i = 1; i < out.size(); ++i) {
        if (!(out.at(i).x() > out.at(i - 1).x()))
            QFAIL(qPrintable(QStringLiteral("x not ascending at output %1: %2 after %3").arg(i).arg(describe(out.at(i)), describe(out.at(i - 1)))));
    }
    // Every output point is an input point, and finite.
    QHash<double, double> drawn;
    for (const QPointF &p : out) {
        QVERIFY2(std::isfinite(p.y()), qPrintable(describe(p)));
        drawn.insert(p.x(), p.y());
    }
    qsizetype checked = 0;
    for (const QPointF &p : out) {
        const auto it = std::lower_bound(s.xs.cbegin(), s.xs.cend(), p.x());
        QVERIFY2(it != s.xs.cend() && *it == p.x(), qPrintable(QStringLiteral("%1 is not an input point").arg(describe(p))));
        QCOMPARE(p.y(), s.values.at(it - s.xs.cbegin()));
        ++checked;
    }
    QCOMPARE(checked, out.size());

    // Per pixel column, the minimum and the maximum of the original are drawn.
    QVector<qsizetype> lowest(columns, -1), highest(columns, -1);
    for (qsizetype i = 0; i < s.xs.size(); ++i) {
        const double v = s.values.at(i);
        if (!std::isfinite(v))
            continue;
        const int c = columnOf(s.xs.at(i), xMin, xMax, columns);
        if (lowest.at(c) < 0 || v < s.values.at(lowest.at(c)))
            lowest[c] = i;
        if (highest.at(c) < 0 || v > s.values.at(highest.at(c)))
            highest[c] = i;
    }
    int columnsWithData = 0;
    for (int c = 0; c < columns; ++c) {
        if (lowest.at(c) < 0)
            continue;
        ++columnsWithData;
        for (qsizetype i : {lowest.at(c), highest.at(c)}) {
            const auto it = drawn.constFind(s.xs.at(i));
            if (it == drawn.constEnd() || *it != s.values.at(i))
                QFAIL(qPrintable(QStringLiteral("column %1: extreme point %2 (index %3) missing").arg(c).arg(describe(QPointF(s.xs.at(i), s.values.at(i)))).arg(i)));
        }
    }
    QCOMPARE(columnsWithData, columns);
}

void TestChartData::decimateNonFinite_data()
{
    QTest::addColumn<double>("share");
    QTest::addColumn<int>("columns");
    QTest::newRow("sparse, 800 columns") << 0.0005 << 800;
    QTest::newRow("dense, 800 columns") << 0.05 << 800;
    QTest::newRow("sparse, 200 columns") << 0.001 << 200;
}

void TestChartData::decimateNonFinite()
{
    QFETCH(double, share);
    QFETCH(int, columns);
    const Series s = randomSeries(1000000, 41, share);
    const double xMin = s.xs.first(), xMax = s.xs.last();
    QVector<ChartData::NonFinite> nonFinite;
    const QList<QPointF> out = ChartData::decimate(s.xs, s.values, xMin, xMax, columns, &nonFinite);
    QVERIFY(!out.isEmpty());
    for (const QPointF &p : out)
        QVERIFY2(std::isfinite(p.y()), qPrintable(QStringLiteral("non-finite line point %1").arg(describe(p))));

    // Which kinds occur in which column.
    QSet<QPair<int, int>> present; // (column, kind)
    for (qsizetype i = 0; i < s.xs.size(); ++i) {
        if (!std::isfinite(s.values.at(i)))
            present.insert({columnOf(s.xs.at(i), xMin, xMax, columns), kindOf(s.values.at(i))});
    }
    QVERIFY(!present.isEmpty());
    // Every reported mark is a real non-finite point of that kind.
    QSet<QPair<int, int>> reported;
    for (const ChartData::NonFinite &mark : nonFinite) {
        const auto it = std::lower_bound(s.xs.cbegin(), s.xs.cend(), mark.x);
        QVERIFY2(it != s.xs.cend() && *it == mark.x, qPrintable(QStringLiteral("mark at x=%1 is no input point").arg(mark.x, 0, 'g', 17)));
        const double v = s.values.at(it - s.xs.cbegin());
        QVERIFY2(!std::isfinite(v), qPrintable(QStringLiteral("mark at x=%1 but the value is %2").arg(mark.x, 0, 'g', 17).arg(v)));
        QVERIFY2(mark.kind == kindOf(v), qPrintable(QStringLiteral("mark at x=%1 has kind %2, the value is %3").arg(mark.x, 0, 'g', 17).arg(mark.kind).arg(v)));
        reported.insert({columnOf(mark.x, xMin, xMax, columns), mark.kind});
    }
    // At least one mark per kind per column where that kind occurs.
    for (const auto &pair : std::as_const(present)) {
        QVERIFY2(reported.contains(pair),
                 qPrintable(QStringLiteral("column %1: kind %2 occurs but is not reported").arg(pair.first).arg(pair.second)));
    }
    // Bounded: a few marks per column, not one per point.
    QVERIFY2(nonFinite.size() <= qsizetype(columns + 1) * 3 * 2,
             qPrintable(QStringLiteral("%1 marks for %2 columns").arg(nonFinite.size()).arg(columns)));
}

void TestChartData::decimateNonFiniteWhenItFits()
{
    const QVector<double> xs{0, 1, 2, 3, 4, 5, 6, 7};
    const QVector<double> values{1.0, NaN, 2.0, Inf, -Inf, 3.0, NaN, 4.0};
    QVector<ChartData::NonFinite> nonFinite;
    const QList<QPointF> out = ChartData::decimate(xs, values, 0, 7, 800, &nonFinite);
    QCOMPARE(out, (QList<QPointF>{{0, 1.0}, {2, 2.0}, {5, 3.0}, {7, 4.0}}));
    QCOMPARE(nonFinite.size(), 4);
    const double expectedX[] = {1, 3, 4, 6};
    const int expectedKind[] = {0, 1, -1, 0};
    for (int i = 0; i < 4; ++i) {
        QCOMPARE(nonFinite.at(i).x, expectedX[i]);
        QCOMPARE(nonFinite.at(i).kind, expectedKind[i]);
    }
    // Without a nonFinite list the call still works.
    QCOMPARE(ChartData::decimate(xs, values, 0, 7, 800).size(), 4);
}

void TestChartData::decimateRangeNeighbours_data()
{
    QTest::addColumn<qsizetype>("points");
    QTest::addColumn<double>("xMin");
    QTest::addColumn<double>("xMax");
    QTest::addColumn<int>("columns");
    // x = 0, 1, 2, ...: the first point before xMin and the first one after xMax come along.
    QTest::newRow("fits, fractional edges") << qsizetype(1000000) << 500000.5 << 500099.5 << 800;
    QTest::newRow("fits, on points") << qsizetype(1000000) << 1000.0 << 1200.0 << 800;
    QTest::newRow("decimated, fractional edges") << qsizetype(1000000) << 250000.5 << 750000.5 << 800;
    QTest::newRow("decimated, on points") << qsizetype(1000000) << 100.0 << 900000.0 << 800;
    QTest::newRow("range starts before the data") << qsizetype(100000) << -50.0 << 70000.0 << 800;
    QTest::newRow("range ends after the data") << qsizetype(100000) << 30000.25 << 2e6 << 800;
}

void TestChartData::decimateRangeNeighbours()
{
    QFETCH(qsizetype, points);
    QFETCH(double, xMin);
    QFETCH(double, xMax);
    QFETCH(int, columns);
    Series s = randomSeries(points, 51);
    for (qsizetype i = 0; i < s.xs.size(); ++i)
        s.xs[i] = double(i);
    const double lastX = s.xs.last();
    QVector<ChartData::NonFinite> nonFinite;
    const QList<QPointF> out = ChartData::decimate(s.xs, s.values, xMin, xMax, columns, &nonFinite);
    QVERIFY(!out.isEmpty());

    // The neighbours: the last point below xMin and the first above xMax, when there are such.
    const double before = std::ceil(xMin) - 1;
    const double after = std::floor(xMax) + 1;
    const bool hasBefore = before >= 0;
    const bool hasAfter = after <= lastX;
    const double firstExpected = hasBefore ? before : 0;
    const double lastExpected = hasAfter ? after : lastX;
    QCOMPARE(out.first().x(), firstExpected);
    QCOMPARE(out.last().x(), lastExpected);
    int below = 0, above = 0;
    for (const QPointF &p : out) {
        below += p.x() < xMin;
        above += p.x() > xMax;
        QVERIFY2(p.x() >= firstExpected && p.x() <= lastExpected, qPrintable(describe(p)));
    }
    QCOMPARE(below, hasBefore ? 1 : 0);
    QCOMPARE(above, hasAfter ? 1 : 0);

    // Where the range fits, it is every point of the range plus the neighbours.
    const qsizetype inRange = qsizetype(std::floor(qMin(xMax, lastX)) - std::ceil(qMax(xMin, 0.0)) + 1);
    if (inRange + 2 <= qsizetype(columns) * 4) {
        QCOMPARE(out.size(), inRange + (hasBefore ? 1 : 0) + (hasAfter ? 1 : 0));
        for (const QPointF &p : out)
            QCOMPARE(p.y(), s.values.at(qsizetype(p.x())));
    } else {
        QVERIFY(out.size() <= qsizetype(columns) * 4 + 2);
    }
    QVERIFY(nonFinite.isEmpty());
}

// ---------------------------------------------------------------------------------------------
// xValues

void TestChartData::xValuesStepAndTime()
{
    MetricSeries series;
    const qint64 origin = 1700000000000;
    series.steps = {0, 10, 20, 35};
    series.values = {1.0, 0.5, 0.25, 0.125};
    series.tsMs = {origin + 500, origin + 1500, origin + 4250, origin + 60000};
    QCOMPARE(ChartData::xValues(series, false, origin), (QVector<double>{0, 10, 20, 35}));
    QCOMPARE(ChartData::xValues(series, true, origin), (QVector<double>{0.5, 1.5, 4.25, 60.0}));
    // The origin is subtracted whatever it is (a run that started before its first point).
    QCOMPARE(ChartData::xValues(series, true, origin - 2000), (QVector<double>{2.5, 3.5, 6.25, 62.0}));
    QVERIFY(ChartData::xValues(MetricSeries(), true, origin).isEmpty());
}

QTEST_MAIN(TestChartData)
#include "tst_chartdata.moc"
