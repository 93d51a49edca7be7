// A late joiner's replay: how long a client that connects after a run is over takes to receive the
// run's whole history from a restarted server (so every event comes from the SQLite store).
//
//  1. Fills a data dir with N events of one run ("bench": run_started, then metric events with
//     step, loss and lr) through the server's own Hub and SqliteStore, in batches of 100, and stops
//     cleanly (snapshot written), as `runwatch` does. A dir that already holds exactly N events is
//     reused as it is.
//  2. Starts `runwatch --headless --port 0 --data-dir DIR` on it.
//  3. WebSocket: J late joiners open /ws/runs/bench?since=0 at once; each one's time runs from
//     open() until it has every event, seqs checked to be exactly 1..N in order (no gap, no
//     duplicate). Also REST: GET /api/runs/bench/events?since=S&limit=L, paged until a page comes
//     without X-Runwatch-Next-Since, same checks.
//  Reported per scenario: seconds, events/s, bytes received, the server's peak RSS during it
//  (VmHWM, reset before each scenario), and CPU seconds used by the server and by this client.
//
//   runwatch_replaybench --runwatch PATH [--events N] [--joiners 1,10] [--repeat R]
//                        [--rest-limits 10000,100000] [--dir DIR] [--perf FILE]
//
// --perf FILE records the server with `perf record` during the one-joiner WebSocket runs.
// The client runs on the same machine: with J joiners it decodes J copies of the history.
// Exit code 0 only when every scenario received every event exactly once, in order.

#include "hub.h"
#include "sqlitestore.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <QWebSocket>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include <signal.h>
#include <unistd.h>

using namespace Runwatch;

namespace {

const QString RunId = QStringLiteral("bench");

// --- Filling the data dir ----------------------------------------------------------------------

EventBatch eventsFrom(qint64 first, int count)
{
    EventBatch batch;
    batch.reserve(count);
    for (int i = 0; i < count; ++i) {
        const qint64 n = first + i; // 0-based index of the event in the run
        Event e;
        e.run = RunId;
        e.tsMs = 1700000000000 + n * 10;
        if (n == 0) {
            e.type = QStringLiteral("run_started");
            e.kind = EventKind::RunStarted;
            e.data = QJsonObject{{QStringLiteral("name"), QStringLiteral("replay benchmark")},
                                 {QStringLiteral("kind"), QStringLiteral("training")}};
        } else {
            e.type = QStringLiteral("metric");
            e.kind = EventKind::Metric;
            e.data = QJsonObject{{QStringLiteral("step"), double(n)},
                                 {QStringLiteral("loss"), 2.0 / double(n + 1) + 0.3123456789},
                                 {QStringLiteral("lr"), 0.0003}};
        }
        batch.append(std::move(e));
    }
    return batch;
}

// Fills `dir` with `events` events of one run, unless it already holds exactly that many.
bool fill(const QString &dir, qint64 events)
{
    QString error;
    auto store = SqliteStore::open(dir, SqliteStore::Sync::Normal, &error);
    if (!store) {
        std::fprintf(stderr, "replaybench: %s\n", qPrintable(error));
        return false;
    }
    if (store->lastSeq() == events && store->storedEvents() == events) {
        std::printf("data dir %s already holds %lld events: reused\n", qPrintable(dir), static_cast<long long>(events));
        return true;
    }
    if (store->lastSeq() != 0) {
        std::fprintf(stderr, "replaybench: %s holds %lld events, not %lld: use an empty dir\n", qPrintable(dir),
                     static_cast<long long>(store->lastSeq()), static_cast<long long>(events));
        return false;
    }
    QElapsedTimer clock;
    clock.start();
    Hub hub(ServerConfig(), std::move(store));
    for (qint64 done = 0; done < events; done += 100) {
        const PublishResult result = hub.publish(eventsFrom(done, int(qMin<qint64>(100, events - done))));
        if (result.error) {
            std::fprintf(stderr, "replaybench: %s\n", qPrintable(result.error.message));
            return false;
        }
    }
    hub.saveSnapshot(); // as a clean stop of runwatch does
    std::printf("filled %s with %lld events in %.1f s\n", qPrintable(dir), static_cast<long long>(events),
                double(clock.nsecsElapsed()) / 1e9);
    return true;
}

// --- Process figures ---------------------------------------------------------------------------

// Utime + stime of a process, in seconds.
double cpuSeconds(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray text = stat.readAll();
    const qsizetype close = text.lastIndexOf(')'); // the command name may hold spaces
    const QList<QByteArray> fields = text.mid(close + 2).split(' ');
    // After ") ": state is field 3 of stat(5), so utime (14) and stime (15) are at 11 and 12 here.
    if (fields.size() < 13)
        return 0;
    return double(fields.at(11).toLongLong() + fields.at(12).toLongLong()) / double(sysconf(_SC_CLK_TCK));
}

// A "Vm...:" line of /proc/PID/status, in kB.
qint64 statusKb(qint64 pid, const char *key)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> lines = status.readAll().split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith(key))
            return line.mid(qsizetype(qstrlen(key))).trimmed().split(' ').value(0).toLongLong();
    }
    return 0;
}

// Resets the process's peak RSS (VmHWM) to its current RSS; false where the kernel refuses.
bool resetPeakRss(qint64 pid)
{
    QFile clear(QStringLiteral("/proc/%1/clear_refs").arg(pid));
    return clear.open(QIODevice::WriteOnly) && clear.write("5") == 1;
}

// --- Counting what arrives ---------------------------------------------------------------------

// Checks that every envelope's seq is exactly the next one, from 1. An envelope (alone, or inside
// a batch frame or a REST page) starts with {"seq": as the server writes it.
struct SeqCheck {
    qint64 last = 0;
    qint64 count = 0;
    qint64 wrong = 0; // out of order, repeated or missing
    qint64 bytes = 0;

    template <typename Char>
    void scan(const Char *p, qsizetype n)
    {
        static const char key[] = "{\"seq\":";
        constexpr qsizetype keyLength = 7;
        for (qsizetype i = 0; i + keyLength < n; ++i) {
            if (p[i] != '{' || p[i + 1] != '"' || p[i + 2] != 's')
                continue;
            qsizetype k = 3;
            while (k < keyLength && p[i + k] == key[k])
                ++k;
            if (k < keyLength)
                continue;
            qsizetype j = i + keyLength;
            qint64 seq = 0;
            while (j < n && p[j] >= '0' && p[j] <= '9')
                seq = seq * 10 + (p[j++] - '0');
            if (seq != last + 1)
                ++wrong;
            last = seq;
            ++count;
            i = j;
        }
    }
};

class Joiner : public QObject
{
public:
    Joiner(const QUrl &url, qint64 expected, const QElapsedTimer &clock)
        : m_expected(expected), m_clock(clock)
    {
        m_socket.setMaxAllowedIncomingFrameSize(quint64(1) << 30);
        m_socket.setMaxAllowedIncomingMessageSize(quint64(1) << 30);
        connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
            check.bytes += text.size(); // the history is ASCII: one byte per character
            check.scan(reinterpret_cast<const char16_t *>(text.utf16()), text.size());
            if (doneNs < 0 && check.count >= m_expected)
                doneNs = m_clock.nsecsElapsed();
        });
        connect(&m_socket, &QWebSocket::disconnected, this, [this] { closed = true; });
        m_socket.open(url);
    }
    ~Joiner() override { m_socket.abort(); }
    bool done() const { return doneNs >= 0 || closed; }
    void close() { m_socket.close(); }

    SeqCheck check;
    qint64 doneNs = -1;
    bool closed = false;

private:
    QWebSocket m_socket;
    qint64 m_expected;
    const QElapsedTimer &m_clock;
};

struct Figures {
    double seconds = 0;      // the slowest client's
    qint64 events = 0;       // received, all clients
    qint64 bytes = 0;        // received, all clients
    qint64 peakRssKb = 0;    // server
    qint64 startRssKb = 0;   // server, before
    double serverCpu = 0;
    double clientCpu = 0;
    int requests = 0;
    bool ok = false;
};

bool waitUntil(const std::function<bool()> &condition, int timeoutMs)
{
    QElapsedTimer clock;
    clock.start();
    while (!condition()) {
        if (clock.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
    }
    return true;
}

class Bench
{
public:
    Bench(qint64 pid, quint16 port, qint64 events, int timeoutMs)
        : m_pid(pid), m_port(port), m_events(events), m_timeoutMs(timeoutMs)
    {
    }

    Figures webSocket(int joiners)
    {
        Figures f = before();
        QElapsedTimer clock;
        std::vector<std::unique_ptr<Joiner>> clients;
        clock.start();
        for (int i = 0; i < joiners; ++i)
            clients.push_back(std::make_unique<Joiner>(url(QStringLiteral("ws"), QStringLiteral("/ws/runs/bench?since=0")), m_events, clock));
        const bool finished = waitUntil([&] {
            sampleRss(&f);
            return std::all_of(clients.begin(), clients.end(), [](const auto &c) { return c->done(); });
        }, m_timeoutMs);
        f.ok = finished;
        for (const auto &c : clients) {
            f.seconds = qMax(f.seconds, double(c->doneNs) / 1e9);
            f.events += c->check.count;
            f.bytes += c->check.bytes;
            if (c->doneNs < 0 || c->check.count != m_events || c->check.wrong != 0 || c->check.last != m_events) {
                std::fprintf(stderr, "replaybench: a joiner got %lld events (last seq %lld, %lld out of order)%s\n",
                             static_cast<long long>(c->check.count), static_cast<long long>(c->check.last),
                             static_cast<long long>(c->check.wrong), c->closed ? ", closed" : "");
                f.ok = false;
            }
        }
        after(&f);
        for (const auto &c : clients)
            c->close();
        waitUntil([&] { return std::all_of(clients.begin(), clients.end(), [](const auto &c) { return c->closed; }); }, 3000);
        return f;
    }

    Figures rest(int limit)
    {
        Figures f = before();
        QNetworkAccessManager nam;
        SeqCheck check;
        QElapsedTimer clock;
        clock.start();
        qint64 since = 0;
        f.ok = true;
        for (;;) {
            QNetworkRequest request(url(QStringLiteral("http"), QStringLiteral("/api/runs/bench/events?since=%1&limit=%2").arg(since).arg(limit)));
            QNetworkReply *reply = nam.get(request);
            const bool answered = waitUntil([&] {
                sampleRss(&f);
                return reply->isFinished();
            }, m_timeoutMs);
            ++f.requests;
            const QByteArray body = reply->readAll();
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            const QByteArray next = reply->rawHeader("X-Runwatch-Next-Since");
            reply->deleteLater();
            if (!answered || status != 200) {
                std::fprintf(stderr, "replaybench: GET events since=%lld: status %d\n", static_cast<long long>(since), status);
                f.ok = false;
                break;
            }
            check.bytes += body.size();
            check.scan(body.constData(), body.size());
            if (next.isEmpty())
                break;
            since = next.toLongLong();
        }
        f.seconds = double(clock.nsecsElapsed()) / 1e9;
        f.events = check.count;
        f.bytes = check.bytes;
        if (check.count != m_events || check.wrong != 0 || check.last != m_events) {
            std::fprintf(stderr, "replaybench: REST got %lld events (last seq %lld, %lld out of order)\n",
                         static_cast<long long>(check.count), static_cast<long long>(check.last), static_cast<long long>(check.wrong));
            f.ok = false;
        }
        after(&f);
        return f;
    }

private:
    QUrl url(const QString &scheme, const QString &pathAndQuery) const
    {
        return QUrl(QStringLiteral("%1://127.0.0.1:%2%3").arg(scheme).arg(m_port).arg(pathAndQuery));
    }
    Figures before()
    {
        Figures f;
        m_peakReset = resetPeakRss(m_pid);
        f.startRssKb = statusKb(m_pid, "VmRSS:");
        f.peakRssKb = f.startRssKb;
        f.serverCpu = -cpuSeconds(m_pid);
        f.clientCpu = -cpuSeconds(qint64(getpid()));
        return f;
    }
    void sampleRss(Figures *f) const { f->peakRssKb = qMax(f->peakRssKb, statusKb(m_pid, "VmRSS:")); }
    void after(Figures *f) const
    {
        f->serverCpu += cpuSeconds(m_pid);
        f->clientCpu += cpuSeconds(qint64(getpid()));
        if (m_peakReset)
            f->peakRssKb = qMax(f->peakRssKb, statusKb(m_pid, "VmHWM:"));
    }

    qint64 m_pid;
    quint16 m_port;
    qint64 m_events;
    int m_timeoutMs;
    bool m_peakReset = false;
};

void print(const QString &name, const Figures &f)
{
    std::printf("%-34s %s %7.3f s %11.0f events/s %8.1f MB  server RSS %4.0f -> peak %4.0f MB  cpu server %.2f s client %.2f s%s\n",
                qPrintable(name), f.ok ? "ok  " : "FAIL", f.seconds, f.seconds > 0 ? double(f.events) / f.seconds : 0.0,
                double(f.bytes) / 1e6, double(f.startRssKb) / 1024.0, double(f.peakRssKb) / 1024.0, f.serverCpu, f.clientCpu,
                f.requests > 0 ? qPrintable(QStringLiteral("  (%1 requests)").arg(f.requests)) : "");
    std::fflush(stdout);
}

QList<int> intList(const QString &text)
{
    QList<int> out;
    const QStringList parts = text.split(QLatin1Char(','), Qt::SkipEmptyParts);
    for (const QString &part : parts) {
        if (part.toInt() > 0)
            out.append(part.toInt());
    }
    return out;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Replay of a run's history to late joiners over WebSocket and REST"));
    parser.addHelpOption();
    parser.addOptions({
        {QStringLiteral("runwatch"), QStringLiteral("the runwatch binary"), QStringLiteral("PATH")},
        {QStringLiteral("events"), QStringLiteral("events in the run"), QStringLiteral("N"), QStringLiteral("1000000")},
        {QStringLiteral("joiners"), QStringLiteral("late joiners at once, per scenario"), QStringLiteral("LIST"), QStringLiteral("1,10")},
        {QStringLiteral("rest-limits"), QStringLiteral("REST page sizes, per scenario"), QStringLiteral("LIST"), QStringLiteral("10000,100000")},
        {QStringLiteral("repeat"), QStringLiteral("runs of each scenario"), QStringLiteral("R"), QStringLiteral("3")},
        {QStringLiteral("dir"), QStringLiteral("data dir to fill (or reuse); default: a temporary dir"), QStringLiteral("DIR")},
        {QStringLiteral("perf"), QStringLiteral("record the server with perf during the one-joiner runs"), QStringLiteral("FILE")},
        {QStringLiteral("timeout"), QStringLiteral("seconds a scenario may take"), QStringLiteral("S"), QStringLiteral("300")},
    });
    parser.process(app);
    const QString binary = parser.value(QStringLiteral("runwatch"));
    const qint64 events = qMax<qint64>(1, parser.value(QStringLiteral("events")).toLongLong());
    const int repeat = qMax(1, parser.value(QStringLiteral("repeat")).toInt());
    const int timeoutMs = qMax(1, parser.value(QStringLiteral("timeout")).toInt()) * 1000;
    if (binary.isEmpty()) {
        std::fprintf(stderr, "replaybench: --runwatch PATH is required\n");
        return 2;
    }

    QTemporaryDir temp(QDir::tempPath() + QStringLiteral("/replaybench-XXXXXX"));
    const QString dir = parser.isSet(QStringLiteral("dir")) ? parser.value(QStringLiteral("dir")) : temp.path();
    QDir().mkpath(dir);
    if (!fill(dir, events))
        return 1;

    // The server, started again on that history.
    QProcess server;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("RUNWATCH_TOKEN"));
    server.setProcessEnvironment(env);
    server.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    QElapsedTimer clock;
    clock.start();
    server.start(binary, {QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data-dir"), dir});
    QByteArray out;
    static const QRegularExpression listening(QStringLiteral("runwatch listening on http://[^\\s:/]+:(\\d+)"));
    QRegularExpressionMatch match;
    waitUntil([&] {
        out += server.readAllStandardOutput();
        match = listening.match(QString::fromUtf8(out));
        return match.hasMatch() || server.state() == QProcess::NotRunning;
    }, 60000);
    if (!match.hasMatch()) {
        std::fprintf(stderr, "replaybench: runwatch did not start: %s\n", out.constData());
        return 1;
    }
    const quint16 port = quint16(match.captured(1).toUInt());
    const qint64 pid = server.processId();
    std::printf("runwatch (pid %lld) restarted on %lld events in %.2f s, port %u, RSS %.0f MB\n", static_cast<long long>(pid),
                static_cast<long long>(events), double(clock.nsecsElapsed()) / 1e9, port, double(statusKb(pid, "VmRSS:")) / 1024.0);
    std::fflush(stdout);

    Bench bench(pid, port, events, timeoutMs);
    bool ok = true;
    QList<int> joinerCounts = intList(parser.value(QStringLiteral("joiners")));
    for (int joiners : std::as_const(joinerCounts)) {
        QProcess perf;
        if (joiners == 1 && parser.isSet(QStringLiteral("perf"))) {
            perf.setProcessChannelMode(QProcess::ForwardedChannels);
            perf.start(QStringLiteral("perf"), {QStringLiteral("record"), QStringLiteral("-F"), QStringLiteral("999"), QStringLiteral("--call-graph"), QStringLiteral("dwarf,16384"),
                                                QStringLiteral("-o"), parser.value(QStringLiteral("perf")), QStringLiteral("-p"), QString::number(pid)});
            QThread::msleep(1000); // let perf attach
        }
        std::vector<double> seconds;
        for (int r = 0; r < repeat; ++r) {
            const Figures f = bench.webSocket(joiners);
            ok = ok && f.ok;
            seconds.push_back(f.seconds);
            print(QStringLiteral("WebSocket, %1 late joiner%2").arg(joiners).arg(joiners == 1 ? QLatin1String() : QLatin1String("s")), f);
            QThread::msleep(300);
        }
        std::sort(seconds.begin(), seconds.end());
        std::printf("  median %.3f s for %d joiner(s) x %lld events\n", seconds[seconds.size() / 2], joiners, static_cast<long long>(events));
        if (perf.state() != QProcess::NotRunning) {
            ::kill(pid_t(perf.processId()), SIGINT);
            perf.waitForFinished(60000);
        }
    }
    const QList<int> limits = intList(parser.value(QStringLiteral("rest-limits")));
    for (int limit : limits) {
        std::vector<double> seconds;
        for (int r = 0; r < repeat; ++r) {
            const Figures f = bench.rest(limit);
            ok = ok && f.ok;
            seconds.push_back(f.seconds);
            print(QStringLiteral("REST, pages of %1").arg(limit), f);
        }
        std::sort(seconds.begin(), seconds.end());
        std::printf("  median %.3f s\n", seconds[seconds.size() / 2]);
    }

    server.terminate(); // SIGTERM: a clean stop
    if (!server.waitForFinished(20000)) {
        server.kill();
        server.waitForFinished(5000);
    }
    return ok ? 0 : 1;
}
