// Soak test for the Runwatch server: producers and subscribers for minutes, and every event counted
// at every subscriber, nothing lost, nothing duplicated, and the server's memory flat.
//
//   runwatch_soak (--spawn PATH/runwatch | --url ws://HOST:PORT [--server-pid PID]) [--seconds 300]
//                 [--producers 4] [--rate 5000] [--subscribers 20] [--churn 4] [--warmup 90] [--token T] [--seed N]
//
// What runs, each part on threads of its own:
// - P producers on /ws publish with acks, in batches of 1..200 events, to their own run and to one
//   shared run (often both in one publish), at a total of --rate events/s; some events carry an
//   `eid`, and now and then an acknowledged batch whose events all carry one is sent again, which
//   must be answered with the seqs of the first time and `duplicates`, never with new seqs;
// - one producer posts to /api/events (with the same kind of retry);
// - S steady subscribers on /ws/runs/{run}, on /ws with subscribe ops, and one on "*";
// - churning subscribers: every second a few connect with since=<an earlier seq>, take the replay
//   and the live tail, and go away (some with a close handshake, some by dropping the connection);
// - one connection on /ws/runs (the lifecycle stream);
// - every 5 s a line with the server's RSS and what /metrics says.
// At the end the producers stop, every steady subscriber must get every acknowledged event, and
// every subscriber's seqs per run must equal the acknowledged seqs of that run, in order. The exit
// code is non-zero when anything was lost or duplicated or the server's RSS grew past a generous
// bound (30 % + 20 MB) from the first sample after the warm-up to the last.
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace {

qint64 monoNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs f on the thread of context and waits for it.
void runOn(QObject *context, const std::function<void()> &f)
{
    if (context->thread() == QThread::currentThread())
        f();
    else
        QMetaObject::invokeMethod(context, f, Qt::BlockingQueuedConnection);
}

struct Options {
    QString url;     // ws://HOST:PORT
    QString token;
    int seconds = 300;
    int producers = 4;
    double rate = 5000;
    int subscribers = 20;
    int churn = 4;
    int warmupS = 30;
    quint32 seed = 0;
};

Options g_o;
QStringList g_runs;           // every run of this soak; the last two are the shared one and the HTTP one
QHash<QString, int> g_runIndex;
int sharedRun() { return int(g_runs.size()) - 2; }
int httpRun() { return int(g_runs.size()) - 1; }

// What the server acknowledged, per run: every seq, and the seqs of lifecycle events.
struct Ledger {
    std::mutex mutex;
    std::vector<std::vector<qint64>> seqs;
    std::vector<std::vector<qint64>> lifecycle;
    std::atomic<qint64> events{0};
    std::atomic<qint64> retriesOk{0};
    std::atomic<qint64> retriesBad{0};
    std::atomic<qint64> unexpectedDuplicates{0};
    std::atomic<qint64> errors{0};
};
Ledger g_ledger;

QString withToken(QString url)
{
    if (!g_o.token.isEmpty())
        url += (url.contains(QLatin1Char('?')) ? QLatin1Char('&') : QLatin1Char('?')) + QStringLiteral("token=") + g_o.token;
    return url;
}

void configure(QWebSocket &socket)
{
    socket.setMaxAllowedIncomingFrameSize(quint64(1) << 30);
    socket.setMaxAllowedIncomingMessageSize(quint64(1) << 30);
}

QByteArray compact(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// One event as JSON text. Lifecycle events are `progress`, the rest a custom type that the server
// stores and forwards without growing any in-memory series (metric points are kept in memory by
// design, which would hide a leak behind legitimate growth).
QByteArray eventJson(int run, bool lifecycle, qint64 index, const QByteArray &eid)
{
    QByteArray e = "{\"run\":\"" + g_runs.at(run).toUtf8() + "\",\"type\":\"" + (lifecycle ? "progress" : "soak.tick")
        + "\",\"data\":{";
    if (lifecycle)
        e += "\"completed\":" + QByteArray::number(index) + ",\"total\":1000000000,";
    e += "\"i\":" + QByteArray::number(index) + ",\"t\":" + QByteArray::number(monoNs()) + '}';
    if (!eid.isEmpty())
        e += ",\"eid\":\"" + eid + '"';
    e += '}';
    return e;
}

// A publish waiting for its answer.
struct Pending {
    std::vector<int> runs;
    std::vector<bool> lifecycle;
    QByteArray events; // the JSON array, kept when every event has an eid (for a retry)
    bool retry = false;
    std::vector<qint64> expected; // a retry: the seqs of the first time
};

// A publish acknowledged whose events all had an eid: sent again now and then.
struct Retryable {
    QByteArray events;
    std::vector<qint64> seqs;
};

// Records an answer to a publish; returns the seqs (empty when it was not an ack).
void recordAck(Pending &p, const QJsonArray &seqArray, int duplicates, std::vector<Retryable> *retryables)
{
    std::vector<qint64> seqs;
    seqs.reserve(size_t(seqArray.size()));
    for (const QJsonValue &v : seqArray)
        seqs.push_back(qint64(v.toDouble()));
    if (p.retry) {
        if (seqs == p.expected && duplicates == int(seqs.size())) {
            ++g_ledger.retriesOk;
        } else {
            ++g_ledger.retriesBad;
            std::fprintf(stderr, "soak: a retried batch of %zu events came back with %d duplicates and %s seqs\n",
                         p.expected.size(), duplicates, seqs == p.expected ? "the same" : "different");
        }
        return;
    }
    if (seqs.size() != p.runs.size()) {
        ++g_ledger.errors;
        std::fprintf(stderr, "soak: an ack of %zu seqs for %zu events\n", seqs.size(), p.runs.size());
        return;
    }
    if (duplicates != 0)
        g_ledger.unexpectedDuplicates += duplicates;
    {
        const std::lock_guard<std::mutex> lock(g_ledger.mutex);
        for (size_t i = 0; i < seqs.size(); ++i) {
            g_ledger.seqs[size_t(p.runs[i])].push_back(seqs[i]);
            if (p.lifecycle[i])
                g_ledger.lifecycle[size_t(p.runs[i])].push_back(seqs[i]);
        }
    }
    g_ledger.events += qint64(seqs.size());
    if (!p.events.isEmpty() && retryables) {
        retryables->push_back(Retryable{p.events, seqs});
        if (retryables->size() > 8)
            retryables->erase(retryables->begin());
    }
}

// Builds one batch: events for the producer's own run and another one, some with an eid.
QByteArray buildBatch(QRandomGenerator &rng, int ownRun, int otherRun, int n, const QByteArray &eidPrefix, qint64 *counter,
                      Pending *p)
{
    const int eidMode = int(rng.bounded(10)); // 0..2: every event has an eid; 3..4: some do; else none
    QByteArray events = "[";
    for (int i = 0; i < n; ++i) {
        const int run = rng.bounded(10) < 6 ? ownRun : otherRun;
        const bool lifecycle = rng.bounded(100) == 0;
        const qint64 k = ++*counter;
        QByteArray eid;
        if (eidMode <= 2 || (eidMode <= 4 && rng.bounded(2) == 0))
            eid = eidPrefix + QByteArray::number(k);
        if (i)
            events += ',';
        events += eventJson(run, lifecycle, k, eid);
        p->runs.push_back(run);
        p->lifecycle.push_back(lifecycle);
    }
    events += ']';
    if (eidMode <= 2)
        p->events = events;
    return events;
}

// A producer on /ws, open loop at its share of the rate.
class WsProducer : public QObject
{
public:
    WsProducer(int index, double rate)
        : m_index(index), m_rate(rate), m_rng(g_o.seed + quint32(index) * 7919u)
    {
        configure(m_socket);
        connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &t) { onText(t); });
        connect(&m_socket, &QWebSocket::disconnected, this, [this] {
            if (!m_closing) {
                ++g_ledger.errors;
                std::fprintf(stderr, "soak: producer %d lost its connection (%d %s)\n", m_index, int(m_socket.closeCode()),
                             qPrintable(m_socket.closeReason()));
            }
        });
        m_socket.open(QUrl(withToken(g_o.url + QStringLiteral("/ws"))));
    }
    void start()
    {
        m_clock.start();
        m_timer = new QTimer(this);
        connect(m_timer, &QTimer::timeout, this, [this] { tick(); });
        m_timer->start(5);
    }
    void stop()
    {
        if (m_timer)
            m_timer->stop();
    }
    void close()
    {
        m_closing = true;
        m_socket.close();
    }
    std::atomic<bool> welcomed{false};
    std::atomic<int> pending{0};
    std::atomic<qint64> sent{0};

private:
    void tick()
    {
        const qint64 due = qint64(double(m_clock.nsecsElapsed()) / 1e9 * m_rate);
        while (m_sent < due) {
            if (!m_retryables.empty() && m_rng.bounded(25) == 0)
                sendRetry();
            const int n = 1 + int(m_rng.bounded(200));
            Pending p;
            const QByteArray events = buildBatch(m_rng, m_index, sharedRun(), n, QByteArray("p" + QByteArray::number(m_index) + '-'),
                                                 &m_counter, &p);
            send(events, std::move(p));
            m_sent += n;
            sent = m_sent;
        }
    }
    void sendRetry()
    {
        const Retryable &r = m_retryables.at(m_rng.bounded(quint32(m_retryables.size())));
        Pending p;
        p.retry = true;
        p.expected = r.seqs;
        send(r.events, std::move(p));
    }
    void send(const QByteArray &events, Pending p)
    {
        const qint64 id = ++m_nextId;
        const QByteArray frame = "{\"op\":\"publish\",\"id\":" + QByteArray::number(id) + ",\"events\":" + events + '}';
        m_socket.sendTextMessage(QString::fromUtf8(frame));
        m_pending.emplace(id, std::move(p));
        pending = int(m_pending.size());
    }
    void onText(const QString &text)
    {
        const QJsonObject obj = QJsonDocument::fromJson(text.toUtf8()).object();
        const QString type = obj.value(QLatin1String("type")).toString();
        if (type == QLatin1String("welcome")) {
            welcomed = true;
            return;
        }
        const qint64 id = qint64(obj.value(QLatin1String("id")).toDouble());
        auto it = m_pending.find(id);
        if (type == QLatin1String("ack") && it != m_pending.end()) {
            recordAck(it->second, obj.value(QLatin1String("seq")).toArray(), obj.value(QLatin1String("duplicates")).toInt(),
                      &m_retryables);
        } else {
            ++g_ledger.errors;
            std::fprintf(stderr, "soak: producer %d: %s\n", m_index, qPrintable(text.left(300)));
        }
        if (it != m_pending.end())
            m_pending.erase(it);
        pending = int(m_pending.size());
    }

    int m_index;
    double m_rate;
    QRandomGenerator m_rng;
    QWebSocket m_socket;
    QElapsedTimer m_clock;
    QTimer *m_timer = nullptr;
    qint64 m_sent = 0;
    qint64 m_nextId = 0;
    qint64 m_counter = 0;
    bool m_closing = false;
    std::map<qint64, Pending> m_pending;
    std::vector<Retryable> m_retryables;
};

// A producer through POST /api/events: one request at a time, at its share of the rate.
class HttpProducer : public QObject
{
public:
    explicit HttpProducer(double rate)
        : m_rate(rate), m_rng(g_o.seed ^ 0x5eedu), m_nam(new QNetworkAccessManager(this))
    {
        QUrl url(g_o.url);
        url.setScheme(url.scheme() == QLatin1String("wss") ? QStringLiteral("https") : QStringLiteral("http"));
        url.setPath(QStringLiteral("/api/events"));
        m_url = url;
    }
    void start()
    {
        m_clock.start();
        m_timer = new QTimer(this);
        connect(m_timer, &QTimer::timeout, this, [this] { tick(); });
        m_timer->start(20);
    }
    void stop()
    {
        if (m_timer)
            m_timer->stop();
    }
    // Closes the keep-alive connection.
    void close()
    {
        delete m_nam;
        m_nam = nullptr;
    }
    std::atomic<int> pending{0};

private:
    void tick()
    {
        if (pending)
            return;
        const qint64 due = qint64(double(m_clock.nsecsElapsed()) / 1e9 * m_rate);
        if (m_sent >= due)
            return;
        Pending p;
        QByteArray events;
        if (!m_retryables.empty() && m_rng.bounded(20) == 0) {
            const Retryable &r = m_retryables.at(m_rng.bounded(quint32(m_retryables.size())));
            p.retry = true;
            p.expected = r.seqs;
            events = r.events;
        } else {
            const int n = int(qBound(qint64(1), due - m_sent, qint64(200)));
            events = buildBatch(m_rng, httpRun(), httpRun(), n, QByteArrayLiteral("h-"), &m_counter, &p);
            m_sent += n;
        }
        QNetworkRequest request(m_url);
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        if (!g_o.token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + g_o.token.toUtf8());
        QNetworkReply *reply = m_nam->post(request, events);
        pending = 1;
        auto shared = std::make_shared<Pending>(std::move(p));
        connect(reply, &QNetworkReply::finished, this, [this, reply, shared] {
            reply->deleteLater();
            pending = 0;
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            const QJsonObject obj = QJsonDocument::fromJson(reply->readAll()).object();
            if (status != 200) {
                ++g_ledger.errors;
                std::fprintf(stderr, "soak: POST /api/events answered %d %s\n", status, qPrintable(reply->errorString()));
                return;
            }
            recordAck(*shared, obj.value(QLatin1String("seq")).toArray(), obj.value(QLatin1String("duplicates")).toInt(),
                      &m_retryables);
        });
    }
    double m_rate;
    QRandomGenerator m_rng;
    QNetworkAccessManager *m_nam;
    QUrl m_url;
    QElapsedTimer m_clock;
    QTimer *m_timer = nullptr;
    qint64 m_sent = 0;
    qint64 m_counter = 0;
    std::vector<Retryable> m_retryables;
};

// A subscriber that stays for the whole soak and keeps every seq it got, per run.
class SteadySubscriber : public QObject
{
public:
    enum class Kind { Path, Ops, All, Lifecycle };
    SteadySubscriber(Kind kind, std::vector<int> runs)
        : m_kind(kind), m_runs(std::move(runs)), m_seqs(size_t(g_runs.size())), m_last(size_t(g_runs.size()), 0)
    {
        configure(m_socket);
        connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &t) { onText(t); });
        connect(&m_socket, &QWebSocket::connected, this, [this] { subscribe(); });
        connect(&m_socket, &QWebSocket::disconnected, this, [this] { onDisconnected(); });
        open(0);
    }
    Kind kind() const { return m_kind; }
    const std::vector<int> &runs() const { return m_runs; }
    const std::vector<qint64> &seqs(int run) const { return m_seqs[size_t(run)]; }
    // Closes the connection; nothing more is counted after this.
    void close()
    {
        m_closing = true;
        disconnect(&m_socket, nullptr, this, nullptr);
        m_socket.close();
    }
    QString describe() const
    {
        switch (m_kind) {
        case Kind::Path: return QStringLiteral("/ws/runs/") + g_runs.at(m_runs.front());
        case Kind::Ops: return QStringLiteral("/ws subscribe ") + g_runs.at(m_runs.front()) + (m_runs.size() > 1 ? QStringLiteral(" +1") : QString());
        case Kind::All: return QStringLiteral("/ws subscribe *");
        case Kind::Lifecycle: return QStringLiteral("/ws/runs");
        }
        return QString();
    }

    std::atomic<bool> welcomed{false};
    std::atomic<qint64> received{0};
    qint64 duplicates = 0;   // a seq at or below the last one of its run (out of order or repeated)
    qint64 overlap = 0;      // the same after a resume on a connection with several runs (allowed)
    qint64 foreign = 0;      // events of runs that are not ours (a shared server)
    int resumes = 0;
    int unexpectedCloses = 0;
    std::vector<qint64> latencies;

private:
    void open(qint64 since)
    {
        QString path;
        if (m_kind == Kind::Path)
            path = QStringLiteral("/ws/runs/") + g_runs.at(m_runs.front()) + QStringLiteral("?since=") + QString::number(since);
        else if (m_kind == Kind::Lifecycle)
            path = QStringLiteral("/ws/runs?since=") + QString::number(since);
        else
            path = QStringLiteral("/ws");
        m_socket.open(QUrl(withToken(g_o.url + path)));
    }
    qint64 resumePoint() const
    {
        qint64 since = -1;
        for (int r : m_runs)
            since = since < 0 ? m_last[size_t(r)] : qMin(since, m_last[size_t(r)]);
        return qMax<qint64>(0, since);
    }
    void subscribe()
    {
        if (m_kind == Kind::Ops) {
            for (int r : m_runs)
                m_socket.sendTextMessage(QString::fromUtf8(compact(QJsonObject{
                    {QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), g_runs.at(r)},
                    {QStringLiteral("since"), double(m_last[size_t(r)])}, {QStringLiteral("id"), g_runs.at(r)}})));
        } else if (m_kind == Kind::All) {
            m_socket.sendTextMessage(QString::fromUtf8(compact(QJsonObject{
                {QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("*")},
                {QStringLiteral("since"), double(resumePoint())}, {QStringLiteral("id"), QStringLiteral("all")}})));
        }
    }
    void onDisconnected()
    {
        if (m_closing)
            return;
        // Cut loose for reading too slowly: resume where we left off, as the protocol says.
        if (m_socket.closeCode() == 4008) {
            ++resumes;
            m_resumed = true;
            open(resumePoint());
            return;
        }
        ++unexpectedCloses;
        std::fprintf(stderr, "soak: subscriber %s closed (%d %s)\n", qPrintable(describe()), int(m_socket.closeCode()),
                     qPrintable(m_socket.closeReason()));
    }
    void take(const QJsonObject &e, qint64 now)
    {
        const auto it = g_runIndex.constFind(e.value(QLatin1String("run")).toString());
        if (it == g_runIndex.constEnd()) {
            ++foreign;
            return;
        }
        const size_t run = size_t(it.value());
        const qint64 seq = qint64(e.value(QLatin1String("seq")).toDouble());
        if (seq <= m_last[run]) {
            if (m_resumed && m_runs.size() > 1)
                ++overlap;
            else
                ++duplicates;
            return;
        }
        m_last[run] = seq;
        m_seqs[run].push_back(seq);
        const qint64 n = ++received;
        if (!m_resumed && m_kind != Kind::Lifecycle && n % 8 == 0) {
            const double t = e.value(QLatin1String("data")).toObject().value(QLatin1String("t")).toDouble();
            if (t > 0)
                latencies.push_back(now - qint64(t));
        }
    }
    void onText(const QString &text)
    {
        const qint64 now = monoNs();
        const QJsonObject obj = QJsonDocument::fromJson(text.toUtf8()).object();
        if (obj.value(QLatin1String("type")).toString() == QLatin1String("batch")) {
            for (const QJsonValue &v : obj.value(QLatin1String("events")).toArray())
                take(v.toObject(), now);
        } else if (obj.contains(QLatin1String("seq"))) {
            take(obj, now);
        } else if (obj.value(QLatin1String("type")).toString() == QLatin1String("welcome")) {
            welcomed = true;
        } else if (obj.value(QLatin1String("type")).toString() == QLatin1String("error")) {
            std::fprintf(stderr, "soak: subscriber %s: %s\n", qPrintable(describe()), qPrintable(text.left(300)));
            ++unexpectedCloses;
        }
    }

    Kind m_kind;
    std::vector<int> m_runs;
    std::vector<std::vector<qint64>> m_seqs;
    std::vector<qint64> m_last;
    QWebSocket m_socket;
    bool m_closing = false;
    bool m_resumed = false;
};

// What one churning subscriber saw.
struct ChurnResult {
    int run = 0;
    qint64 since = 0;
    qint64 welcomeLastSeq = 0;
    bool aborted = false;
    bool viaOp = false;
    qint64 disorder = 0;
    std::vector<qint64> seqs;
};

// A subscriber that comes with since=<an earlier seq>, stays a moment, and goes.
class Churner : public QObject
{
public:
    Churner(QRandomGenerator &rng, std::function<void(Churner *)> done)
        : m_done(std::move(done))
    {
        configure(m_socket);
        r.run = int(rng.bounded(quint32(g_runs.size())));
        {
            const std::lock_guard<std::mutex> lock(g_ledger.mutex);
            const std::vector<qint64> &acked = g_ledger.seqs[size_t(r.run)];
            if (!acked.empty()) {
                const quint32 back = rng.bounded(quint32(qMin<size_t>(acked.size(), 5000)));
                r.since = acked[acked.size() - 1 - back];
            }
        }
        r.aborted = rng.bounded(3) == 0;
        r.viaOp = rng.bounded(2) == 0;
        connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &t) { onText(t); });
        connect(&m_socket, &QWebSocket::connected, this, [this] {
            if (r.viaOp)
                m_socket.sendTextMessage(QString::fromUtf8(compact(QJsonObject{
                    {QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), g_runs.at(r.run)},
                    {QStringLiteral("since"), double(r.since)}})));
        });
        connect(&m_socket, &QWebSocket::disconnected, this, [this] { finish(); });
        const QString path = r.viaOp ? QStringLiteral("/ws")
                                     : QStringLiteral("/ws/runs/") + g_runs.at(r.run) + QStringLiteral("?since=") + QString::number(r.since);
        m_socket.open(QUrl(withToken(g_o.url + path)));
        QTimer::singleShot(300 + int(rng.bounded(2200)), this, [this] {
            if (r.aborted) {
                m_socket.abort();
                finish();
            } else {
                m_socket.close();
            }
        });
    }
    ChurnResult r;

private:
    void finish()
    {
        if (m_finished)
            return;
        m_finished = true;
        m_socket.disconnect(this);
        m_done(this);
    }
    void take(const QJsonObject &e)
    {
        if (e.value(QLatin1String("run")).toString() != g_runs.at(r.run))
            return;
        const qint64 seq = qint64(e.value(QLatin1String("seq")).toDouble());
        if (!r.seqs.empty() && seq <= r.seqs.back()) {
            ++r.disorder;
            return;
        }
        r.seqs.push_back(seq);
    }
    void onText(const QString &text)
    {
        const QJsonObject obj = QJsonDocument::fromJson(text.toUtf8()).object();
        const QString type = obj.value(QLatin1String("type")).toString();
        if (type == QLatin1String("batch")) {
            for (const QJsonValue &v : obj.value(QLatin1String("events")).toArray())
                take(v.toObject());
        } else if (obj.contains(QLatin1String("seq"))) {
            take(obj);
        } else if (type == QLatin1String("welcome")) {
            r.welcomeLastSeq = qint64(obj.value(QLatin1String("last_seq")).toDouble());
        }
    }
    std::function<void(Churner *)> m_done;
    QWebSocket m_socket;
    bool m_finished = false;
};

class ChurnDriver : public QObject
{
public:
    ChurnDriver() : m_rng(g_o.seed ^ 0xc4u) {}
    void start()
    {
        auto *timer = new QTimer(this);
        connect(timer, &QTimer::timeout, this, [this] {
            if (m_stopped)
                return;
            for (int i = 0; i < g_o.churn; ++i) {
                ++m_live;
                new Churner(m_rng, [this](Churner *c) {
                    results.push_back(std::move(c->r));
                    c->deleteLater();
                    --m_live;
                });
            }
        });
        timer->start(1000);
    }
    void stop() { m_stopped = true; }
    int live() const { return m_live; }
    std::vector<ChurnResult> results;

private:
    QRandomGenerator m_rng;
    std::atomic<int> m_live{0};
    bool m_stopped = false;
};

struct ServerMetrics {
    bool ok = false;
    qint64 websocket = -1;
    qint64 http = -1;
    qint64 tcp = -1;
    qint64 queueBytes = -1;
    qint64 lagging = -1;
};

// GET /metrics on a connection of its own that closes after the answer (so the only connection it
// adds to the figures is the one asking).
ServerMetrics fetchMetrics()
{
    ServerMetrics m;
    const QUrl url(g_o.url);
    QTcpSocket socket;
    socket.connectToHost(url.host(), quint16(url.port(80)));
    if (!socket.waitForConnected(3000))
        return m;
    QByteArray request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(url.port(80)) + "\r\nConnection: close\r\n";
    if (!g_o.token.isEmpty())
        request += "Authorization: Bearer " + g_o.token.toUtf8() + "\r\n";
    request += "\r\n";
    socket.write(request);
    QByteArray answer;
    QElapsedTimer clock;
    clock.start();
    while (socket.state() == QAbstractSocket::ConnectedState && clock.elapsed() < 5000) {
        socket.waitForReadyRead(500);
        answer += socket.readAll();
    }
    answer += socket.readAll();
    for (const QByteArray &line : answer.split('\n')) {
        auto value = [&](const char *prefix, qint64 *out) {
            if (line.startsWith(prefix))
                *out = line.mid(qsizetype(qstrlen(prefix))).trimmed().toLongLong();
        };
        value("runwatch_connections{kind=\"websocket\"} ", &m.websocket);
        value("runwatch_connections{kind=\"http\"} ", &m.http);
        value("runwatch_tcp_connections ", &m.tcp);
        value("runwatch_queue_bytes ", &m.queueBytes);
        value("runwatch_clients_dropped_total{reason=\"lagging\"} ", &m.lagging);
    }
    m.ok = m.websocket >= 0 && m.tcp >= 0;
    return m;
}

qint64 rssKb(qint64 pid)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (pid <= 0 || !status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &l : status.readAll().split('\n')) {
        if (l.startsWith("VmRSS:"))
            return l.mid(6).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

double percentileMs(std::vector<qint64> &v, double p)
{
    if (v.empty())
        return 0;
    const size_t k = std::min(v.size() - 1, size_t(p * double(v.size())));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return double(v[k]) / 1e6;
}

// Waits, running this thread's events, until done() or the timeout; true when done.
bool waitFor(const std::function<bool()> &done, int timeoutMs)
{
    QElapsedTimer clock;
    clock.start();
    while (!done()) {
        if (clock.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(5);
    }
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Soak test: producers and subscribers for minutes; nothing lost, nothing duplicated, RSS flat."));
    parser.addHelpOption();
    parser.addOptions({
        {QStringLiteral("url"), QStringLiteral("ws://HOST:PORT of a running server"), QStringLiteral("URL")},
        {QStringLiteral("spawn"), QStringLiteral("start this runwatch binary headless on a free port and a fresh data dir"), QStringLiteral("PATH")},
        {QStringLiteral("server-pid"), QStringLiteral("pid of the server for RSS figures (with --url)"), QStringLiteral("PID")},
        {QStringLiteral("seconds"), QStringLiteral("how long producers publish"), QStringLiteral("S"), QStringLiteral("300")},
        {QStringLiteral("producers"), QStringLiteral("WebSocket producers (besides one over HTTP)"), QStringLiteral("P"), QStringLiteral("4")},
        {QStringLiteral("rate"), QStringLiteral("events per second in total"), QStringLiteral("R"), QStringLiteral("5000")},
        {QStringLiteral("subscribers"), QStringLiteral("steady subscribers"), QStringLiteral("S"), QStringLiteral("20")},
        {QStringLiteral("churn"), QStringLiteral("churning subscribers started per second"), QStringLiteral("N"), QStringLiteral("4")},
        {QStringLiteral("warmup"), QStringLiteral("seconds before RSS counts, while the server's bounded caches fill (at most a third of --seconds)"),
         QStringLiteral("S"), QStringLiteral("90")},
        {QStringLiteral("token"), QStringLiteral("admin token of the server"), QStringLiteral("T")},
        {QStringLiteral("seed"), QStringLiteral("random seed (default: from the clock)"), QStringLiteral("N")},
    });
    parser.process(app);
    g_o.seconds = qMax(1, parser.value(QStringLiteral("seconds")).toInt());
    g_o.producers = qMax(1, parser.value(QStringLiteral("producers")).toInt());
    g_o.rate = qMax(1.0, parser.value(QStringLiteral("rate")).toDouble());
    g_o.subscribers = qMax(1, parser.value(QStringLiteral("subscribers")).toInt());
    g_o.churn = qMax(0, parser.value(QStringLiteral("churn")).toInt());
    g_o.warmupS = qMin(parser.value(QStringLiteral("warmup")).toInt(), g_o.seconds / 3);
    g_o.token = parser.value(QStringLiteral("token"));
    g_o.seed = parser.isSet(QStringLiteral("seed")) ? parser.value(QStringLiteral("seed")).toUInt()
                                                    : quint32(QDateTime::currentMSecsSinceEpoch());

    QProcess server;
    QTemporaryDir dataDir;
    qint64 serverPid = parser.value(QStringLiteral("server-pid")).toLongLong();
    if (parser.isSet(QStringLiteral("spawn"))) {
        server.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        server.start(parser.value(QStringLiteral("spawn")), {QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("0"),
                                                              QStringLiteral("--data-dir"), dataDir.path()});
        QByteArray line;
        QElapsedTimer clock;
        clock.start();
        while (!line.contains('\n') && clock.elapsed() < 15000 && server.state() != QProcess::NotRunning) {
            server.waitForReadyRead(200);
            line += server.readAllStandardOutput();
        }
        const auto m = QRegularExpression(QStringLiteral("^runwatch listening on http://[^\\s]+:(\\d+)")).match(QString::fromUtf8(line));
        if (!m.hasMatch()) {
            std::fprintf(stderr, "soak: server did not start (%s)\n", line.constData());
            return 1;
        }
        g_o.url = QStringLiteral("ws://127.0.0.1:") + m.captured(1);
        serverPid = server.processId();
    } else {
        g_o.url = parser.value(QStringLiteral("url"));
    }
    if (g_o.url.isEmpty()) {
        std::fprintf(stderr, "soak: give --url or --spawn\n");
        return 2;
    }

    const QString prefix = QStringLiteral("soak%1").arg(QCoreApplication::applicationPid());
    for (int i = 0; i < g_o.producers; ++i)
        g_runs.append(prefix + QStringLiteral("-p%1").arg(i));
    g_runs.append(prefix + QStringLiteral("-shared"));
    g_runs.append(prefix + QStringLiteral("-http"));
    for (int i = 0; i < g_runs.size(); ++i)
        g_runIndex.insert(g_runs.at(i), i);
    g_ledger.seqs.resize(size_t(g_runs.size()));
    g_ledger.lifecycle.resize(size_t(g_runs.size()));

    const double httpRate = g_o.rate * 0.05;
    const double wsRate = (g_o.rate - httpRate) / g_o.producers;
    std::printf("soak: %s  seconds %d  producers %d (+1 HTTP)  rate %.0f/s  steady subscribers %d (+1 lifecycle)  churn %d/s  seed %u\n",
                qPrintable(g_o.url), g_o.seconds, g_o.producers, g_o.rate, g_o.subscribers, g_o.churn, g_o.seed);
    const ServerMetrics baseline = fetchMetrics();
    if (!baseline.ok) {
        std::fprintf(stderr, "soak: GET /metrics failed\n");
        return 1;
    }

    // Threads: producers; steady subscribers on two; churners; the main thread samples and holds
    // the lifecycle stream.
    QThread producerThread, subThreadA, subThreadB, churnThread;
    QObject producerCtx, subCtxA, subCtxB, churnCtx;
    producerCtx.moveToThread(&producerThread);
    subCtxA.moveToThread(&subThreadA);
    subCtxB.moveToThread(&subThreadB);
    churnCtx.moveToThread(&churnThread);
    for (QThread *t : {&producerThread, &subThreadA, &subThreadB, &churnThread})
        t->start();

    std::vector<std::unique_ptr<SteadySubscriber>> subsA, subsB;
    for (int i = 0; i < g_o.subscribers; ++i) {
        QObject *ctx = i % 2 ? &subCtxB : &subCtxA;
        auto &list = i % 2 ? subsB : subsA;
        const int runs = int(g_runs.size());
        runOn(ctx, [&list, i, runs] {
            if (i == 0) {
                std::vector<int> all;
                for (int r = 0; r < runs; ++r)
                    all.push_back(r);
                list.emplace_back(new SteadySubscriber(SteadySubscriber::Kind::All, all));
            } else if (i % 3 == 2) {
                list.emplace_back(new SteadySubscriber(SteadySubscriber::Kind::Ops, {i % runs, (i + 1) % runs}));
            } else {
                list.emplace_back(new SteadySubscriber(SteadySubscriber::Kind::Path, {i % runs}));
            }
        });
    }
    std::vector<int> allRuns;
    for (int r = 0; r < g_runs.size(); ++r)
        allRuns.push_back(r);
    SteadySubscriber lifecycle(SteadySubscriber::Kind::Lifecycle, allRuns);

    std::vector<std::unique_ptr<WsProducer>> producers;
    std::unique_ptr<HttpProducer> httpProducer;
    runOn(&producerCtx, [&] {
        for (int i = 0; i < g_o.producers; ++i)
            producers.emplace_back(new WsProducer(i, wsRate));
        httpProducer.reset(new HttpProducer(httpRate));
    });
    std::unique_ptr<ChurnDriver> churn;
    runOn(&churnCtx, [&] { churn.reset(new ChurnDriver); });

    auto forEachSub = [&](const std::function<void(SteadySubscriber &)> &f) {
        for (auto &s : subsA)
            f(*s);
        for (auto &s : subsB)
            f(*s);
    };
    const bool up = waitFor([&] {
        bool all = lifecycle.welcomed;
        forEachSub([&](SteadySubscriber &s) { all = all && s.welcomed; });
        for (auto &p : producers)
            all = all && p->welcomed;
        return all;
    }, 30000);
    if (!up) {
        std::fprintf(stderr, "soak: connections did not come up\n");
        return 1;
    }
    // Subscribe ops are answered before the first event is published.
    QThread::msleep(300);

    runOn(&producerCtx, [&] {
        for (auto &p : producers)
            p->start();
        httpProducer->start();
    });
    runOn(&churnCtx, [&] { churn->start(); });

    struct Sample {
        double t;
        qint64 rssKb;
    };
    std::vector<Sample> samples;
    QElapsedTimer clock;
    clock.start();
    auto deliveries = [&] {
        qint64 n = 0;
        forEachSub([&](SteadySubscriber &s) { n += s.received; });
        return n;
    };
    qint64 nextSampleMs = 0;
    qint64 lastDeliveries = 0, lastAcked = 0;
    auto sample = [&] {
        const double t = double(clock.elapsed()) / 1000.0;
        const qint64 rss = rssKb(serverPid);
        const ServerMetrics m = fetchMetrics();
        const qint64 d = deliveries();
        const qint64 a = g_ledger.events;
        int churnLive = 0;
        size_t churnDone = 0;
        runOn(&churnCtx, [&] {
            churnLive = churn->live();
            churnDone = churn->results.size();
        });
        samples.push_back(Sample{t, rss});
        std::printf("t=%5.0fs acked %9lld (+%5.0f/s) deliveries %10lld (+%6.0f/s) rss %6.1f MB  ws %lld http %lld tcp %lld queue %lld B  churners %d live, %zu done\n",
                    t, static_cast<long long>(a), double(a - lastAcked) / 5.0, static_cast<long long>(d),
                    double(d - lastDeliveries) / 5.0, double(rss) / 1024.0, static_cast<long long>(m.websocket),
                    static_cast<long long>(m.http), static_cast<long long>(m.tcp), static_cast<long long>(m.queueBytes), churnLive, churnDone);
        std::fflush(stdout);
        lastAcked = a;
        lastDeliveries = d;
    };
    while (clock.elapsed() < qint64(g_o.seconds) * 1000) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        QThread::msleep(5);
        if (clock.elapsed() >= nextSampleMs) {
            sample();
            nextSampleMs += 5000;
        }
    }
    sample();

    // Stop: no new events, no new churners; every publish answered.
    runOn(&producerCtx, [&] {
        for (auto &p : producers)
            p->stop();
        httpProducer->stop();
    });
    runOn(&churnCtx, [&] { churn->stop(); });
    bool ok = true;
    if (!waitFor([&] {
            int n = httpProducer->pending;
            for (auto &p : producers)
                n += p->pending;
            return n == 0;
        }, 60000)) {
        std::fprintf(stderr, "soak: publishes still unanswered after 60 s\n");
        ok = false;
    }
    // Every steady subscriber gets every acknowledged event of its runs.
    std::vector<qint64> ackedPerRun(size_t(g_runs.size())), lifePerRun(size_t(g_runs.size()));
    {
        const std::lock_guard<std::mutex> lock(g_ledger.mutex);
        for (size_t r = 0; r < ackedPerRun.size(); ++r) {
            std::sort(g_ledger.seqs[r].begin(), g_ledger.seqs[r].end());
            std::sort(g_ledger.lifecycle[r].begin(), g_ledger.lifecycle[r].end());
            ackedPerRun[r] = qint64(g_ledger.seqs[r].size());
            lifePerRun[r] = qint64(g_ledger.lifecycle[r].size());
        }
    }
    auto expectedFor = [&](const SteadySubscriber &s) {
        qint64 n = 0;
        for (int r : s.runs())
            n += s.kind() == SteadySubscriber::Kind::Lifecycle ? lifePerRun[size_t(r)] : ackedPerRun[size_t(r)];
        return n;
    };
    QElapsedTimer drain;
    drain.start();
    if (!waitFor([&] {
            bool all = lifecycle.received >= expectedFor(lifecycle);
            forEachSub([&](SteadySubscriber &s) { all = all && s.received >= expectedFor(s); });
            return all;
        }, 120000)) {
        std::fprintf(stderr, "soak: subscribers still short of events after 120 s\n");
        ok = false;
    }
    const double drainS = double(drain.elapsed()) / 1000.0;
    waitFor([&] {
        int live = 0;
        runOn(&churnCtx, [&] { live = churn->live(); });
        return live == 0;
    }, 10000);

    // Close everything and look at what the server still counts.
    runOn(&producerCtx, [&] {
        for (auto &p : producers)
            p->close();
        httpProducer->close();
    });
    runOn(&subCtxA, [&] { for (auto &s : subsA) s->close(); });
    runOn(&subCtxB, [&] { for (auto &s : subsB) s->close(); });
    lifecycle.close();
    ServerMetrics after;
    const bool settled = waitFor([&] {
        after = fetchMetrics();
        return after.ok && after.websocket == baseline.websocket && after.tcp == baseline.tcp && after.http == baseline.http;
    }, 15000);
    std::printf("after closing: ws %lld http %lld tcp %lld queue %lld B (before the soak: ws %lld http %lld tcp %lld)\n",
                static_cast<long long>(after.websocket), static_cast<long long>(after.http), static_cast<long long>(after.tcp),
                static_cast<long long>(after.queueBytes), static_cast<long long>(baseline.websocket),
                static_cast<long long>(baseline.http), static_cast<long long>(baseline.tcp));
    if (!settled) {
        std::fprintf(stderr, "soak: the server still counts connections of the soak\n");
        ok = false;
    }

    // Verify: per subscriber and run, received == acknowledged, in order.
    qint64 lost = 0, duplicated = 0, delivered = 0, overlap = 0, foreign = 0;
    int resumes = 0, closes = 0;
    std::vector<qint64> latencies;
    auto check = [&](SteadySubscriber &s) {
        duplicated += s.duplicates;
        overlap += s.overlap;
        foreign += s.foreign;
        resumes += s.resumes;
        closes += s.unexpectedCloses;
        latencies.insert(latencies.end(), s.latencies.begin(), s.latencies.end());
        for (int r : s.runs()) {
            const std::vector<qint64> &want = s.kind() == SteadySubscriber::Kind::Lifecycle ? g_ledger.lifecycle[size_t(r)] : g_ledger.seqs[size_t(r)];
            const std::vector<qint64> &got = s.seqs(r);
            delivered += qint64(got.size());
            if (got == want)
                continue;
            std::vector<qint64> missing, extra;
            std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
            std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
            lost += qint64(missing.size());
            duplicated += qint64(extra.size());
            std::fprintf(stderr, "soak: subscriber %s, run %s: %zu missing (first %lld), %zu not acknowledged (first %lld)\n",
                         qPrintable(s.describe()), qPrintable(g_runs.at(r)), missing.size(),
                         static_cast<long long>(missing.empty() ? 0 : missing.front()), extra.size(),
                         static_cast<long long>(extra.empty() ? 0 : extra.front()));
        }
    };
    forEachSub(check);
    check(lifecycle);

    // Churners: what each got must be exactly the acknowledged seqs of its run after its cursor, up
    // to the last one it got.
    int churnOk = 0, churnBad = 0, churnLive = 0, churnAborted = 0;
    qint64 churnEvents = 0;
    std::vector<ChurnResult> churned;
    runOn(&churnCtx, [&] { churned = std::move(churn->results); });
    for (const ChurnResult &c : churned) {
        churnAborted += c.aborted ? 1 : 0;
        churnEvents += qint64(c.seqs.size());
        const std::vector<qint64> &acked = g_ledger.seqs[size_t(c.run)];
        bool good = c.disorder == 0;
        if (!c.seqs.empty()) {
            const auto from = std::upper_bound(acked.begin(), acked.end(), c.since);
            const auto to = std::upper_bound(acked.begin(), acked.end(), c.seqs.back());
            good = good && std::equal(from, to, c.seqs.begin(), c.seqs.end());
            if (c.seqs.back() > c.welcomeLastSeq)
                ++churnLive;
        }
        if (good) {
            ++churnOk;
        } else {
            ++churnBad;
            std::fprintf(stderr, "soak: churner on %s since %lld (%s%s): %zu events, %lld out of order, not the acknowledged sequence\n",
                         qPrintable(g_runs.at(c.run)), static_cast<long long>(c.since), c.viaOp ? "subscribe op" : "path",
                         c.aborted ? ", aborted" : "", c.seqs.size(), static_cast<long long>(c.disorder));
        }
    }

    // RSS after the warm-up: first, min, max, last, and the slope (MB/min) by least squares, over
    // the samples after the warm-up and over those after the first 30 s. The warm-up lets bounded
    // caches fill (SQLite's page cache takes about a minute at 5,000 events/s); a leak keeps going.
    auto samplesFrom = [&](double from) {
        std::vector<Sample> out;
        for (const Sample &s : samples)
            if (s.t >= from && s.rssKb > 0)
                out.push_back(s);
        return out;
    };
    auto slopeOf = [](const std::vector<Sample> &v) {
        double st = 0, sr = 0, stt = 0, str = 0;
        for (const Sample &s : v) {
            const double mb = double(s.rssKb) / 1024.0;
            st += s.t;
            sr += mb;
            stt += s.t * s.t;
            str += s.t * mb;
        }
        const double n = double(v.size());
        const double denom = n * stt - st * st;
        return denom > 0 ? (n * str - st * sr) / denom * 60.0 : 0.0;
    };
    const std::vector<Sample> warm = samplesFrom(g_o.warmupS);
    const std::vector<Sample> after30 = samplesFrom(qMin(30, g_o.warmupS));
    const double slope = slopeOf(warm), slope30 = slopeOf(after30);
    qint64 rssMin = 0, rssMax = 0;
    bool rssOk = true;
    if (warm.size() >= 2) {
        rssMin = rssMax = warm.front().rssKb;
        for (const Sample &s : warm) {
            rssMin = qMin(rssMin, s.rssKb);
            rssMax = qMax(rssMax, s.rssKb);
        }
        const double first = double(warm.front().rssKb) / 1024.0, last = double(warm.back().rssKb) / 1024.0;
        rssOk = last <= first * 1.3 + 20.0;
    }

    const qint64 retriesOk = g_ledger.retriesOk, retriesBad = g_ledger.retriesBad, errors = g_ledger.errors,
                 unexpectedDup = g_ledger.unexpectedDuplicates;
    std::printf("\n== soak summary (%d s, seed %u)\n", g_o.seconds, g_o.seed);
    std::printf("events acked %lld (%.0f/s)  retried batches answered as duplicates %lld, wrongly %lld  publish errors %lld  unexpected duplicates %lld\n",
                static_cast<long long>(g_ledger.events.load()), double(g_ledger.events) / g_o.seconds, static_cast<long long>(retriesOk),
                static_cast<long long>(retriesBad), static_cast<long long>(errors), static_cast<long long>(unexpectedDup));
    std::printf("steady deliveries %lld  lost %lld  duplicated %lld  (resumes after 4008: %d, overlap skipped %lld, unexpected closes %d, drain %.1f s)\n",
                static_cast<long long>(delivered), static_cast<long long>(lost), static_cast<long long>(duplicated), resumes,
                static_cast<long long>(overlap), closes, drainS);
    std::printf("churners %zu (aborted %d): complete and in order %d, wrong %d, reached the live tail %d, events %lld\n",
                churned.size(), churnAborted, churnOk, churnBad, churnLive, static_cast<long long>(churnEvents));
    std::printf("latency_ms p50 %.3f p99 %.3f p99.9 %.3f (samples %zu)\n", percentileMs(latencies, 0.5),
                percentileMs(latencies, 0.99), percentileMs(latencies, 0.999), latencies.size());
    if (!warm.empty())
        std::printf("server_rss_mb after %d s warm-up: first %.1f min %.1f max %.1f last %.1f  slope %+.2f MB/min (%zu samples; "
                    "%+.2f MB/min over the samples after %d s)%s\n",
                    g_o.warmupS, double(warm.front().rssKb) / 1024.0, double(rssMin) / 1024.0, double(rssMax) / 1024.0,
                    double(warm.back().rssKb) / 1024.0, slope, warm.size(), slope30, qMin(30, g_o.warmupS),
                    rssOk ? "" : "  GREW PAST THE BOUND");
    else
        std::printf("server_rss_mb: no samples (give --server-pid with --url)\n");
    if (foreign)
        std::printf("(events of other runs seen on \"*\": %lld)\n", static_cast<long long>(foreign));

    ok = ok && lost == 0 && duplicated == 0 && churnBad == 0 && retriesBad == 0 && errors == 0 && unexpectedDup == 0 && closes == 0
        && rssOk && g_ledger.events > 0;
    std::printf("result: %s\n", ok ? "PASS" : "FAIL");

    runOn(&producerCtx, [&] {
        producers.clear();
        httpProducer.reset();
    });
    runOn(&subCtxA, [&] { subsA.clear(); });
    runOn(&subCtxB, [&] { subsB.clear(); });
    runOn(&churnCtx, [&] { churn.reset(); });
    for (QThread *t : {&producerThread, &subThreadA, &subThreadB, &churnThread}) {
        t->quit();
        t->wait();
    }
    if (server.state() != QProcess::NotRunning) {
        server.terminate();
        if (!server.waitForFinished(10000))
            server.kill();
    }
    return ok ? 0 : 1;
}
