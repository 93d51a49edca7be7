#include "testsupport.h"

#include "hub.h"
#include "memorystore.h"

#include <QTest>

using namespace Runwatch;

namespace {

// A subscriber that records frames and can pretend its socket is backed up.
class FakeSubscriber : public Subscriber
{
public:
    void sendFrame(const QByteArray &utf8) override
    {
        frames.append(QString::fromUtf8(utf8));
        queued += utf8.size();
    }
    qint64 queuedBytes() const override { return queued; }
    void cutLoose(int code, const QString &) override { cutCode = code; }

    QStringList frames;
    qint64 queued = 0;
    int cutCode = 0;
};

} // namespace

class TestHub : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void seqIncreasesAcrossRuns();
    void replayThenLiveWithoutDuplicates();
    void replayWaitsForRoom();
    void laggingSubscriberIsCutLoose();
    void storeFailureAcceptsNothing();
};

void TestHub::seqIncreasesAcrossRuns()
{
    Hub hub(ServerConfig(), std::make_unique<MemoryStore>());
    const PublishResult a = hub.publishJson(Test::event(QStringLiteral("a"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}}));
    const PublishResult b = hub.publishJson(QJsonArray{Test::event(QStringLiteral("b"), QStringLiteral("metric"), {{QStringLiteral("loss"), 1}}),
                                                       Test::event(QStringLiteral("a"), QStringLiteral("metric"), {{QStringLiteral("loss"), 2}})});
    QVERIFY(!a.error);
    QVERIFY(!b.error);
    QCOMPARE(a.seqs, QVector<qint64>{1});
    QCOMPARE(b.seqs, (QVector<qint64>{2, 3}));
    QCOMPARE(hub.lastSeq(), 3);
    QCOMPARE(hub.run(QStringLiteral("a"))->eventCount(), 2);
}

void TestHub::replayThenLiveWithoutDuplicates()
{
    Hub hub(ServerConfig(), std::make_unique<MemoryStore>());
    for (int i = 0; i < 5; ++i)
        hub.publishJson(Test::event(QStringLiteral("r"), QStringLiteral("metric"), {{QStringLiteral("loss"), i}}));
    // Not flushed yet: the pending events are in the store and must come once, through replay.
    FakeSubscriber sub;
    hub.subscribe(&sub, Subscription::Target::Run, QStringLiteral("r"), 2, true);
    hub.flush();
    hub.publishJson(Test::event(QStringLiteral("r"), QStringLiteral("metric"), {{QStringLiteral("loss"), 9}}));
    hub.flush();
    QString all = sub.frames.join(QLatin1Char('\n'));
    for (int seq = 3; seq <= 6; ++seq)
        QCOMPARE(all.count(QStringLiteral("\"seq\":%1,").arg(seq)), 1);
    QCOMPARE(all.count(QStringLiteral("\"seq\":2,")), 0);
    QVERIFY(sub.frames.at(1).contains(QLatin1String("\"subscribed\"")));
    hub.removeSubscriber(&sub);
}

void TestHub::replayWaitsForRoom()
{
    ServerConfig config;
    config.maxQueueBytes = 1 << 20;
    Hub hub(config, std::make_unique<MemoryStore>());
    const QString big(4000, QLatin1Char('x'));
    for (int i = 0; i < 2000; ++i)
        hub.publishJson(Test::event(QStringLiteral("r"), QStringLiteral("log"), {{QStringLiteral("message"), big}}));
    hub.flush();
    FakeSubscriber sub;
    hub.subscribe(&sub, Subscription::Target::Run, QStringLiteral("r"), 0, true);
    QVERIFY(sub.queued <= config.maxQueueBytes);
    QVERIFY(!sub.frames.last().contains(QLatin1String("subscribed")));
    while (!sub.frames.last().contains(QLatin1String("subscribed"))) {
        const int before = int(sub.frames.size());
        sub.queued = 0; // the socket drained
        hub.drained(&sub);
        QVERIFY(sub.frames.size() > before);
    }
    QCOMPARE(sub.cutCode, 0);
    hub.removeSubscriber(&sub);
}

void TestHub::laggingSubscriberIsCutLoose()
{
    ServerConfig config;
    config.maxQueueBytes = 100000;
    Hub hub(config, std::make_unique<MemoryStore>());
    FakeSubscriber slow, fast;
    hub.subscribe(&slow, Subscription::Target::All, QString(), -1, false);
    hub.subscribe(&fast, Subscription::Target::All, QString(), -1, false);
    const QString big(2000, QLatin1Char('y'));
    for (int i = 0; i < 100 && slow.cutCode == 0; ++i) {
        hub.publishJson(Test::event(QStringLiteral("r"), QStringLiteral("log"), {{QStringLiteral("message"), big}}));
        hub.flush();
        fast.queued = 0;
    }
    QCOMPARE(slow.cutCode, Hub::CloseLagging);
    QCOMPARE(fast.cutCode, 0);
    QCOMPARE(hub.counters().laggingDropped, 1);
    hub.removeSubscriber(&fast);
}

namespace {
class FailingStore : public MemoryStore
{
public:
    bool append(const EventBatch &, QString *error, bool *) override
    {
        *error = QStringLiteral("disk full");
        return false;
    }
};
} // namespace

void TestHub::storeFailureAcceptsNothing()
{
    Hub hub(ServerConfig(), std::make_unique<FailingStore>());
    const PublishResult result = hub.publishJson(Test::event(QStringLiteral("r"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}}));
    QCOMPARE(result.error.code, ErrorCode::StoreFailed);
    QVERIFY(result.error.message.contains(QLatin1String("disk full")));
    QCOMPARE(hub.lastSeq(), 0);
    QVERIFY(!hub.run(QStringLiteral("r")));
}

QTEST_GUILESS_MAIN(TestHub)
#include "tst_hub.moc"
