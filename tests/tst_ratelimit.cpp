// The producer budgets (server/net/ratelimit.cpp) on a clock the test drives: every time is given, so
// the checks are exact and nothing waits.

#include "ratelimit.h"

#include <QTest>

using namespace Runwatch;

namespace {

constexpr qint64 Ms = 1000 * 1000; // nanoseconds
constexpr qint64 S = 1000 * Ms;

} // namespace

class TestRateLimit : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void bucketStartsFullAndRefillsAtItsRate();
    void bucketNeverHoldsMoreThanItsBurst();
    void clockGoingBackIsIgnored();
    void noRateMeansNoLimit();
    void limiterTakesAWholePublishOrNothing();
    void limiterAlwaysLetsTheLargestPublishThrough();
    void bytesLimitOnItsOwn();
    void tableForgetsIdleProducersFirst();
    void tableStaysBoundedWhenNobodyIsIdle();
};

void TestRateLimit::bucketStartsFullAndRefillsAtItsRate()
{
    TokenBucket bucket(100, 200); // 100 a second, bursts of 200
    const qint64 t0 = 5 * S;
    QCOMPARE(bucket.waitFor(200, t0), qint64(0));
    bucket.take(200);
    QCOMPARE(bucket.waitFor(1, t0), qint64(10));     // one token every 10 ms
    QCOMPARE(bucket.waitFor(50, t0), qint64(500));
    QCOMPARE(bucket.waitFor(1, t0 + 9 * Ms), qint64(1));
    QCOMPARE(bucket.waitFor(1, t0 + 10 * Ms), qint64(0));
    QVERIFY(!bucket.full(t0 + 1999 * Ms));
    QVERIFY(bucket.full(t0 + 2 * S));
}

void TestRateLimit::bucketNeverHoldsMoreThanItsBurst()
{
    TokenBucket bucket(1000, 100);
    QCOMPARE(bucket.waitFor(100, 0), qint64(0));
    // An hour idle still leaves only the burst.
    QCOMPARE(bucket.waitFor(101, 3600 * S), qint64(1));
    bucket.take(100);
    QCOMPARE(bucket.waitFor(100, 3600 * S), qint64(100));
}

void TestRateLimit::clockGoingBackIsIgnored()
{
    TokenBucket bucket(10, 10);
    QCOMPARE(bucket.waitFor(10, 10 * S), qint64(0));
    bucket.take(10);
    // A time before the last one neither refills nor moves the reference back.
    QCOMPARE(bucket.waitFor(1, 9 * S), qint64(100));
    QCOMPARE(bucket.waitFor(1, 10 * S + 100 * Ms), qint64(0));
}

void TestRateLimit::noRateMeansNoLimit()
{
    TokenBucket none;
    QVERIFY(!none.limited());
    QCOMPARE(none.waitFor(1e12, 0), qint64(0));
    ProducerLimiter open(0, 0, 10000, 1 << 20);
    for (int i = 0; i < 1000; ++i)
        QCOMPARE(open.admit(10000, 1 << 20, 0), qint64(0));
    LimiterTable table(0, 0, 10000, 1 << 20, 2);
    for (int i = 0; i < 100; ++i)
        QCOMPARE(table.admit(QString::number(i), 10000, 1, 0), qint64(0));
    QCOMPARE(table.size(), 0); // nothing to remember
}

void TestRateLimit::limiterTakesAWholePublishOrNothing()
{
    // 1,000 events a second in bursts of two seconds' worth.
    ProducerLimiter limiter(1000, 0, 100, 1 << 20);
    const qint64 t0 = S;
    for (int i = 0; i < 20; ++i)
        QCOMPARE(limiter.admit(100, 10, t0), qint64(0));
    // The bucket is empty: a refused publish takes nothing, so waiting what it says is enough.
    const qint64 wait = limiter.admit(100, 10, t0);
    QCOMPARE(wait, qint64(100));
    QCOMPARE(limiter.admit(100, 10, t0 + 50 * Ms), qint64(50));
    QCOMPARE(limiter.admit(100, 10, t0 + wait * Ms), qint64(0));
    QCOMPARE(limiter.admit(1, 10, t0 + wait * Ms), qint64(1));
    QVERIFY(!limiter.idle(t0 + wait * Ms));
    QVERIFY(limiter.idle(t0 + wait * Ms + 2 * S));
}

void TestRateLimit::limiterAlwaysLetsTheLargestPublishThrough()
{
    // A limit below one publish of the largest allowed size: the burst is raised to that size,
    // so such a publish passes after a wait instead of never.
    ProducerLimiter limiter(10, 0, 5000, 1 << 20);
    QCOMPARE(limiter.admit(5000, 1, 0), qint64(0));
    const qint64 wait = limiter.admit(5000, 1, 0);
    QCOMPARE(wait, qint64(500 * 1000));
    QCOMPARE(limiter.admit(5000, 1, wait * Ms), qint64(0));
    // More events than a publish may hold cost nothing here: the publish is refused for its size.
    QCOMPARE(limiter.admit(5001, 1, wait * Ms), qint64(0));
    QCOMPARE(limiter.admit(1, 1, wait * Ms), qint64(100));
}

void TestRateLimit::bytesLimitOnItsOwn()
{
    ProducerLimiter limiter(0, 1000, 100, 4000); // bursts of max(2,000, 4,000) bytes
    QCOMPARE(limiter.admit(1, 4000, 0), qint64(0));
    QCOMPARE(limiter.admit(1, 1, 0), qint64(1));
    QCOMPARE(limiter.admit(1, 500, 0), qint64(500));
    QCOMPARE(limiter.admit(1000, 500, 500 * Ms), qint64(0)); // events are not limited
}

void TestRateLimit::tableForgetsIdleProducersFirst()
{
    LimiterTable table(100, 0, 200, 1 << 20, 3);
    QCOMPARE(table.admit(QStringLiteral("a"), 200, 1, 0), qint64(0)); // a spends its whole burst
    QCOMPARE(table.admit(QStringLiteral("b"), 1, 1, 0), qint64(0));
    QCOMPARE(table.admit(QStringLiteral("c"), 1, 1, 0), qint64(0));
    QCOMPARE(table.size(), 3);
    // At 100 ms, b and c are full again, a still owes: a newcomer makes room by forgetting b and c.
    QCOMPARE(table.admit(QStringLiteral("d"), 1, 1, 100 * Ms), qint64(0));
    QCOMPARE(table.size(), 2);
    // a's debt was kept: it waits as before.
    QVERIFY(table.admit(QStringLiteral("a"), 200, 1, 100 * Ms) > 0);
}

void TestRateLimit::tableStaysBoundedWhenNobodyIsIdle()
{
    LimiterTable table(100, 0, 200, 1 << 20, 8);
    for (int i = 0; i < 1000; ++i) {
        QCOMPARE(table.admit(QString::number(i), 200, 1, 0), qint64(0));
        QVERIFY(table.size() <= 8);
    }
    QCOMPARE(table.size(), 8);
}

QTEST_GUILESS_MAIN(TestRateLimit)
#include "tst_ratelimit.moc"
