// Load generator for the Runwatch protocol: P producers publishing with acks, S subscribers on
// /ws/runs/{run} counting every event and measuring producer-to-subscriber latency.
//
//   runwatch_loadgen [--url ws://127.0.0.1:7600 | --spawn PATH/runwatch] [--events N] [--batch B]
//                    [--window W] [--producers P] [--subscribers S] [--rate EVENTS_PER_S] [--payload BYTES]
//
// Closed loop (default): each producer keeps W publishes in flight. Open loop (--rate): events are
// sent on a fixed schedule whatever the acks do, for latency measurements.
#include <QCommandLineParser>
#include <QDir>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QThread>
#include <QTimer>
#include <QWebSocket>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>

#include <unistd.h>

namespace {

qint64 monoNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Options {
    QString url;
    qint64 events = 200000;
    int batch = 100;
    int window = 8;
    int producers = 1;
    int subscribers = 1;
    double rate = 0;
    int payload = 0;
    QString run = QStringLiteral("bench");
    QString token;
};

// One subscriber: counts events, checks order, samples latency.
class Subscriber : public QObject
{
public:
    Subscriber(const Options &o, qint64 expected)
        : m_expected(expected)
    {
        m_socket.setMaxAllowedIncomingFrameSize(quint64(1) << 30);
        m_socket.setMaxAllowedIncomingMessageSize(quint64(1) << 30);
        connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) { onText(text); });
        connect(&m_socket, &QWebSocket::connected, this, [this] { connected = true; });
        m_base = o.url + QStringLiteral("/ws/runs/") + o.run;
        if (!o.token.isEmpty())
            m_base += QStringLiteral("?token=") + o.token;
        // A subscriber that fell too far behind is cut loose (close 4008) and resumes where it
        // left off, as the protocol tells clients to: counted, and nothing may be lost.
        connect(&m_socket, &QWebSocket::disconnected, this, [this] {
            if (m_socket.closeCode() != 4008)
                return;
            ++cutLoose;
            const QChar sep = m_base.contains(QLatin1Char('?')) ? QLatin1Char('&') : QLatin1Char('?');
            m_socket.open(QUrl(m_base + sep + QStringLiteral("since=") + QString::number(lastSeq)));
        });
        const QChar sep = m_base.contains(QLatin1Char('?')) ? QLatin1Char('&') : QLatin1Char('?');
        m_socket.open(QUrl(m_base + sep + QStringLiteral("replay=0")));
    }
    QString m_base;
    std::atomic<int> cutLoose{0};
    void onText(const QString &text)
    {
        const qint64 now = monoNs();
        const QJsonObject obj = QJsonDocument::fromJson(text.toUtf8()).object();
        auto take = [&](const QJsonObject &e) {
            const qint64 seq = qint64(e.value(QLatin1String("seq")).toDouble());
            if (seq <= lastSeq)
                ++duplicates;
            lastSeq = qMax(lastSeq, seq);
            ++received;
            const QJsonObject data = e.value(QLatin1String("data")).toObject();
            const double t = data.value(QLatin1String("t")).toDouble();
            if (t > 0 && (received % 7 == 0 || m_expected < 50000))
                latencies.push_back(now - qint64(t));
        };
        if (obj.value(QLatin1String("type")).toString() == QLatin1String("batch")) {
            for (const QJsonValue &v : obj.value(QLatin1String("events")).toArray())
                take(v.toObject());
        } else if (obj.contains(QLatin1String("seq"))) {
            take(obj);
        } else if (obj.value(QLatin1String("type")).toString() == QLatin1String("welcome")) {
            welcomed = true;
        }
    }
    QWebSocket m_socket;
    qint64 m_expected;
    std::atomic<bool> connected{false};
    std::atomic<bool> welcomed{false};
    std::atomic<qint64> received{0};
    qint64 lastSeq = 0;
    qint64 duplicates = 0;
    std::vector<qint64> latencies;
};

class Producer : public QObject
{
public:
    Producer(const Options &o, int index, qint64 count, std::atomic<qint64> *acked)
        : m_o(o), m_index(index), m_count(count), m_acked(acked)
    {
        connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) { onText(text); });
        connect(&m_socket, &QWebSocket::connected, this, [this] { connected = true; });
        QString url = o.url + QStringLiteral("/ws");
        if (!o.token.isEmpty())
            url += QStringLiteral("?token=") + o.token;
        m_socket.open(QUrl(url));
        m_pad = QString(o.payload, QLatin1Char('x'));
    }
    void start()
    {
        if (m_o.rate > 0) {
            m_clock.start();
            auto *timer = new QTimer(this);
            connect(timer, &QTimer::timeout, this, [this, timer] {
                const qint64 due = qMin(m_count, qint64(m_clock.nsecsElapsed() / 1e9 * m_o.rate / m_o.producers));
                while (m_sent < due)
                    sendBatch(qMin<qint64>(m_o.batch, due - m_sent));
                if (m_sent >= m_count)
                    timer->stop();
            });
            timer->start(1);
        } else {
            for (int i = 0; i < m_o.window && m_sent < m_count; ++i)
                sendBatch(qMin<qint64>(m_o.batch, m_count - m_sent));
        }
    }
    void sendBatch(qint64 n)
    {
        QByteArray out = "{\"op\":\"publish\",\"id\":" + QByteArray::number(++m_nextId) + ",\"events\":[";
        const qint64 t = monoNs();
        for (qint64 i = 0; i < n; ++i) {
            if (i)
                out += ',';
            out += "{\"run\":\"" + m_o.run.toUtf8() + "\",\"type\":\"metric\",\"data\":{\"step\":"
                + QByteArray::number(m_sent + i) + ",\"loss\":" + QByteArray::number(1.0 / double(m_sent + i + 1))
                + ",\"p\":" + QByteArray::number(m_index) + ",\"t\":" + QByteArray::number(t);
            if (!m_pad.isEmpty())
                out += ",\"pad\":\"" + m_pad.toUtf8() + '"';
            out += "}}";
        }
        out += "]}";
        m_sent += n;
        m_socket.sendTextMessage(QString::fromUtf8(out));
    }
    void onText(const QString &text)
    {
        if (text.startsWith(QLatin1String("{\"client_id\"")) || text.contains(QLatin1String("\"welcome\""))) {
            welcomed = true;
            return;
        }
        const QJsonObject obj = QJsonDocument::fromJson(text.toUtf8()).object();
        const QString type = obj.value(QLatin1String("type")).toString();
        if (type == QLatin1String("ack")) {
            *m_acked += obj.value(QLatin1String("seq")).toArray().size();
            if (m_o.rate <= 0 && m_sent < m_count)
                sendBatch(qMin<qint64>(m_o.batch, m_count - m_sent));
        } else if (type == QLatin1String("error")) {
            std::fprintf(stderr, "server error: %s\n", qPrintable(text));
            ++errors;
        }
    }
    QWebSocket m_socket;
    Options m_o;
    int m_index;
    qint64 m_count;
    qint64 m_sent = 0;
    qint64 m_nextId = 0;
    std::atomic<qint64> *m_acked;
    std::atomic<bool> connected{false};
    std::atomic<bool> welcomed{false};
    std::atomic<int> errors{0};
    QElapsedTimer m_clock;
    QString m_pad;
};

struct ProcStat {
    double cpuS = 0;
    qint64 rssKb = 0;
    qint64 hwmKb = 0;
};

ProcStat procStat(qint64 pid)
{
    ProcStat s;
    if (pid <= 0)
        return s;
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (stat.open(QIODevice::ReadOnly)) {
        const QByteArray line = stat.readAll();
        const QList<QByteArray> f = line.mid(line.lastIndexOf(')') + 2).split(' ');
        if (f.size() > 13)
            s.cpuS = double(f.at(11).toLongLong() + f.at(12).toLongLong()) / double(sysconf(_SC_CLK_TCK));
    }
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (status.open(QIODevice::ReadOnly)) {
        for (const QByteArray &l : status.readAll().split('\n')) {
            if (l.startsWith("VmRSS:"))
                s.rssKb = l.mid(6).trimmed().split(' ').first().toLongLong();
            if (l.startsWith("VmHWM:"))
                s.hwmKb = l.mid(6).trimmed().split(' ').first().toLongLong();
        }
    }
    return s;
}

double percentile(std::vector<qint64> &v, double p)
{
    if (v.empty())
        return 0;
    const size_t k = std::min(v.size() - 1, size_t(p * double(v.size())));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return double(v[k]) / 1e6;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOptions({
        {QStringLiteral("url"), QStringLiteral("ws://HOST:PORT of a running server"), QStringLiteral("URL")},
        {QStringLiteral("spawn"), QStringLiteral("start this runwatch binary headless on a free port"), QStringLiteral("PATH")},
        {QStringLiteral("server-pid"), QStringLiteral("pid of the server for RSS/CPU figures (with --url)"), QStringLiteral("PID")},
        {QStringLiteral("events"), QStringLiteral("events in total"), QStringLiteral("N"), QStringLiteral("200000")},
        {QStringLiteral("batch"), QStringLiteral("events per publish"), QStringLiteral("B"), QStringLiteral("100")},
        {QStringLiteral("window"), QStringLiteral("publishes in flight per producer"), QStringLiteral("W"), QStringLiteral("8")},
        {QStringLiteral("producers"), QStringLiteral("producer connections"), QStringLiteral("P"), QStringLiteral("1")},
        {QStringLiteral("subscribers"), QStringLiteral("subscriber connections"), QStringLiteral("S"), QStringLiteral("1")},
        {QStringLiteral("rate"), QStringLiteral("open loop: events per second"), QStringLiteral("R"), QStringLiteral("0")},
        {QStringLiteral("payload"), QStringLiteral("extra bytes per event"), QStringLiteral("BYTES"), QStringLiteral("0")},
        {QStringLiteral("token"), QStringLiteral("producer token"), QStringLiteral("T")},
        {QStringLiteral("run"), QStringLiteral("run id"), QStringLiteral("ID"), QStringLiteral("bench")},
    });
    parser.process(app);
    Options o;
    o.events = parser.value(QStringLiteral("events")).toLongLong();
    o.batch = qMax(1, parser.value(QStringLiteral("batch")).toInt());
    o.window = qMax(1, parser.value(QStringLiteral("window")).toInt());
    o.producers = qMax(1, parser.value(QStringLiteral("producers")).toInt());
    o.subscribers = qMax(0, parser.value(QStringLiteral("subscribers")).toInt());
    o.rate = parser.value(QStringLiteral("rate")).toDouble();
    o.payload = parser.value(QStringLiteral("payload")).toInt();
    o.token = parser.value(QStringLiteral("token"));
    o.run = parser.value(QStringLiteral("run"));

    QProcess server;
    qint64 serverPid = parser.value(QStringLiteral("server-pid")).toLongLong();
    if (parser.isSet(QStringLiteral("spawn"))) {
        server.start(parser.value(QStringLiteral("spawn")), {QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"),
                                                              QStringLiteral("--data-dir"), QDir::tempPath() + QStringLiteral("/runwatch-bench-%1").arg(QCoreApplication::applicationPid())});
        if (!server.waitForReadyRead(10000)) {
            std::fprintf(stderr, "loadgen: server did not start\n");
            return 1;
        }
        const QString line = QString::fromUtf8(server.readLine()).trimmed();
        const auto m = QRegularExpression(QStringLiteral(":(\\d+)$")).match(line);
        o.url = QStringLiteral("ws://127.0.0.1:") + m.captured(1);
        serverPid = server.processId();
    } else {
        o.url = parser.value(QStringLiteral("url"));
    }
    if (o.url.isEmpty()) {
        std::fprintf(stderr, "loadgen: give --url or --spawn\n");
        return 2;
    }

    // Subscribers on a thread of their own, so that counting does not slow the producers.
    QThread subThread;
    subThread.start();
    QObject subContext;
    subContext.moveToThread(&subThread);
    std::vector<std::unique_ptr<Subscriber>> subs;
    QMetaObject::invokeMethod(
        &subContext,
        [&] {
            for (int i = 0; i < o.subscribers; ++i)
                subs.emplace_back(new Subscriber(o, o.events));
        },
        Qt::BlockingQueuedConnection);
    std::atomic<qint64> acked{0};
    std::vector<std::unique_ptr<Producer>> producers;
    for (int i = 0; i < o.producers; ++i)
        producers.emplace_back(new Producer(o, i, o.events / o.producers + (i < o.events % o.producers ? 1 : 0), &acked));

    QElapsedTimer wait;
    wait.start();
    auto allUp = [&] {
        for (auto &p : producers)
            if (!p->welcomed)
                return false;
        for (auto &s : subs)
            if (!s->welcomed)
                return false;
        return true;
    };
    while (!allUp() && wait.elapsed() < 30000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    if (!allUp()) {
        std::fprintf(stderr, "loadgen: connections did not come up\n");
        return 1;
    }
    const ProcStat before = procStat(serverPid);
    QElapsedTimer clock;
    clock.start();
    for (auto &p : producers)
        p->start();
    qint64 ingestNs = 0;
    auto delivered = [&] {
        qint64 n = 0;
        for (auto &s : subs)
            n += s->received;
        return n;
    };
    const qint64 expectedDeliveries = o.events * o.subscribers;
    const qint64 deadlineMs = 600000;
    while (clock.elapsed() < deadlineMs) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        if (!ingestNs && acked >= o.events)
            ingestNs = clock.nsecsElapsed();
        if (ingestNs && delivered() >= expectedDeliveries)
            break;
    }
    const qint64 totalNs = clock.nsecsElapsed();
    // Let stragglers (duplicates) arrive before counting.
    QThread::msleep(200);
    const ProcStat after = procStat(serverPid);
    QMetaObject::invokeMethod(&subContext, [&] {
        for (auto &s : subs) {
            s->m_socket.disconnect();
            s->m_socket.abort();
        }
    }, Qt::BlockingQueuedConnection);

    std::vector<qint64> lat;
    qint64 dups = 0, got = 0;
    int cuts = 0;
    for (auto &s : subs) {
        cuts += s->cutLoose;
        lat.insert(lat.end(), s->latencies.begin(), s->latencies.end());
        dups += s->duplicates;
        got += s->received;
    }
    const double ingestS = double(ingestNs ? ingestNs : totalNs) / 1e9;
    const double totalS = double(totalNs) / 1e9;
    std::printf("events %lld  batch %d  producers %d  subscribers %d  mode %s\n", static_cast<long long>(o.events), o.batch,
                o.producers, o.subscribers, o.rate > 0 ? qPrintable(QStringLiteral("open-loop %1/s").arg(o.rate)) : "closed-loop");
    std::printf("ingest_events_per_s %.0f\n", double(acked) / ingestS);
    std::printf("deliveries_per_s %.0f\n", double(got) / totalS);
    std::printf("latency_ms p50 %.3f p99 %.3f p99.9 %.3f (samples %zu)\n", percentile(lat, 0.5), percentile(lat, 0.99),
                percentile(lat, 0.999), lat.size());
    std::printf("lost %lld duplicated %lld resumed_after_4008 %d\n", static_cast<long long>(expectedDeliveries - (got - dups)),
                static_cast<long long>(dups), cuts);
    if (serverPid > 0)
        std::printf("server_rss_mb %.1f peak_rss_mb %.1f cpu_s %.2f\n", double(after.rssKb) / 1024.0, double(after.hwmKb) / 1024.0,
                    after.cpuS - before.cpuS);
    QMetaObject::invokeMethod(&subContext, [&] { subs.clear(); }, Qt::BlockingQueuedConnection);
    subThread.quit();
    subThread.wait();
    producers.clear();
    if (server.state() != QProcess::NotRunning) {
        server.terminate();
        server.waitForFinished(5000);
    }
    return (expectedDeliveries - (got - dups)) == 0 && dups == 0 ? 0 : 1;
}
