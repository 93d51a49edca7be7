// Load generator for the Runwatch protocol: P producers publishing with acks, S subscribers on
// /ws/runs/{run} counting every event and measuring producer-to-subscriber latency.
//
//   runwatch_loadgen [--url ws://127.0.0.1:7600 | --spawn PATH/runwatch] [--events N] [--batch B]
//                    [--window W] [--producers P] [--subscribers S] [--rate EVENTS_PER_S] [--payload BYTES]
//                    [--sub-threads T] [--idle N] [--server-pid PID]
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
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <sys/resource.h>
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
    int subThreads = 2;
    int idle = 0;
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
    // Envelopes are scanned, not parsed: a full JSON parse per delivery would make the load generator,
    // not the server, the bottleneck at hundreds of subscribers. Every "seq" key starts an envelope
    // (single or inside a batch frame); the next "t" key before the following "seq" is the producer's
    // send time. Whitespace after ':' is allowed, as other servers write it.
    static qint64 numberAfter(QStringView text, qsizetype &pos)
    {
        while (pos < text.size() && (text[pos] == QLatin1Char(' ') || text[pos] == QLatin1Char(':')))
            ++pos;
        qint64 v = 0;
        bool any = false;
        while (pos < text.size() && text[pos].isDigit()) {
            v = v * 10 + (text[pos].unicode() - '0');
            ++pos;
            any = true;
        }
        return any ? v : -1;
    }
    void onText(const QString &text)
    {
        const qint64 now = monoNs();
        const QStringView view(text);
        static const QString seqKey = QStringLiteral("\"seq\"");
        static const QString tKey = QStringLiteral("\"t\"");
        qsizetype pos = view.indexOf(seqKey);
        if (pos < 0) {
            if (view.contains(QLatin1String("welcome")) || view.startsWith(QLatin1String("{\"client_id\"")))
                welcomed = true;
            return;
        }
        while (pos >= 0) {
            pos += seqKey.size();
            const qint64 seq = numberAfter(view, pos);
            const qsizetype next = view.indexOf(seqKey, pos);
            if (seq < 0) {
                pos = next;
                continue;
            }
            if (seq <= lastSeq)
                ++duplicates;
            lastSeq = qMax(lastSeq, seq);
            const qint64 count = ++received;
            if (count % 7 == 0 || m_expected < 50000) {
                qsizetype tp = view.indexOf(tKey, pos);
                if (tp >= 0 && (next < 0 || tp < next)) {
                    tp += tKey.size();
                    const qint64 t = numberAfter(view, tp);
                    if (t > 0)
                        latencies.push_back(now - t);
                }
            }
            pos = next;
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

// Runs the event loop until something happened, or 2 ms passed: waiting, not spinning, so that the
// load generator's main thread leaves the CPU to the server and the subscribers meanwhile.
void waitForEvents()
{
    static QTimer *tick = [] {
        auto *timer = new QTimer(QCoreApplication::instance());
        timer->start(2);
        return timer;
    }();
    Q_UNUSED(tick)
    QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
}

// Thousands of connections need as many descriptors: take the hard limit.
void raiseFileLimit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
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
        {QStringLiteral("sub-threads"), QStringLiteral("threads the subscribers are spread over"), QStringLiteral("T"), QStringLiteral("2")},
        {QStringLiteral("idle"), QStringLiteral("idle WebSocket connections to hold (with --events 0: only measure them)"), QStringLiteral("N"), QStringLiteral("0")},
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
    o.subThreads = qBound(1, parser.value(QStringLiteral("sub-threads")).toInt(), 64);
    o.idle = qMax(0, parser.value(QStringLiteral("idle")).toInt());
    raiseFileLimit();
    std::vector<std::unique_ptr<QWebSocket>> idleHeld;

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

    // Idle connections (--idle N): opened and held before the measured part, to see what an idle
    // client costs the server.
    if (o.idle > 0) {
        const ProcStat base = procStat(serverPid);
        std::vector<std::unique_ptr<QWebSocket>> idle;
        idle.reserve(size_t(o.idle));
        std::atomic<int> up{0};
        int failed = 0;
        QElapsedTimer idleClock;
        idleClock.start();
        const QUrl idleUrl(o.url + QStringLiteral("/ws/runs/") + o.run + QStringLiteral("?replay=0")
                           + (o.token.isEmpty() ? QString() : QStringLiteral("&token=") + o.token));
        for (int i = 0; i < o.idle; ++i) {
            auto socket = std::make_unique<QWebSocket>();
            QObject::connect(socket.get(), &QWebSocket::connected, [&up] { ++up; });
            QObject::connect(socket.get(), &QWebSocket::disconnected, [&failed] { ++failed; });
            socket->open(idleUrl);
            idle.push_back(std::move(socket));
            // Keep the number of handshakes in flight modest, as a fleet of clients would.
            while (i + 1 - up - failed > 256 && idleClock.elapsed() < 120000)
                waitForEvents();
        }
        while (up + failed < o.idle && idleClock.elapsed() < 120000)
            waitForEvents();
        // Let the server settle (handshake buffers freed, first keepalive not yet due).
        QElapsedTimer settle;
        settle.start();
        while (settle.elapsed() < 2000)
            waitForEvents();
        const ProcStat held = procStat(serverPid);
        std::printf("idle_connections %d open %d failed %d in %.1f s\n", o.idle, int(up), failed, double(idleClock.elapsed()) / 1000.0);
        if (serverPid > 0 && up > 0)
            std::printf("idle_rss_mb before %.1f after %.1f per_connection_kib %.1f\n", double(base.rssKb) / 1024.0,
                        double(held.rssKb) / 1024.0, double(held.rssKb - base.rssKb) / double(int(up)));
        if (o.events <= 0) {
            for (auto &socket : idle)
                socket->abort();
            if (server.state() != QProcess::NotRunning) {
                server.terminate();
                server.waitForFinished(5000);
            }
            return failed == 0 ? 0 : 1;
        }
        idleHeld = std::move(idle);
    }

    // Subscribers on threads of their own, so that counting does not slow the producers.
    std::vector<std::unique_ptr<QThread>> subThreads;
    std::vector<std::unique_ptr<QObject>> subContexts;
    for (int t = 0; t < o.subThreads; ++t) {
        subThreads.emplace_back(new QThread);
        subThreads.back()->start();
        subContexts.emplace_back(new QObject);
        subContexts.back()->moveToThread(subThreads.back().get());
    }
    std::vector<std::unique_ptr<Subscriber>> subs(size_t(o.subscribers));
    auto onEachThread = [&](const std::function<void(int, size_t)> &work) {
        for (int t = 0; t < o.subThreads; ++t)
            QMetaObject::invokeMethod(
                subContexts[size_t(t)].get(),
                [&, t] {
                    for (size_t i = size_t(t); i < subs.size(); i += size_t(o.subThreads))
                        work(t, i);
                },
                Qt::BlockingQueuedConnection);
    };
    onEachThread([&](int, size_t i) { subs[i].reset(new Subscriber(o, o.events)); });
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
    while (!allUp() && wait.elapsed() < 120000)
        waitForEvents();
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
        waitForEvents();
        if (!ingestNs && acked >= o.events)
            ingestNs = clock.nsecsElapsed();
        if (ingestNs && delivered() >= expectedDeliveries)
            break;
    }
    const qint64 totalNs = clock.nsecsElapsed();
    // Let stragglers (duplicates) arrive before counting.
    QThread::msleep(200);
    const ProcStat after = procStat(serverPid);
    onEachThread([&](int, size_t i) {
        subs[i]->m_socket.disconnect();
        subs[i]->m_socket.abort();
    });

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
    onEachThread([&](int, size_t i) { subs[i].reset(); });
    for (auto &thread : subThreads) {
        thread->quit();
        thread->wait();
    }
    subContexts.clear();
    for (auto &socket : idleHeld)
        socket->abort();
    producers.clear();
    if (server.state() != QProcess::NotRunning) {
        server.terminate();
        server.waitForFinished(5000);
    }
    return (expectedDeliveries - (got - dups)) == 0 && dups == 0 ? 0 : 1;
}
