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
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QThread>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
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

// One subscriber: counts events, checks order, samples latency. A minimal WebSocket client on a
// plain socket (handshake, unmasked server frames, ping/pong, close), driven by epoll on a thread
// of its own with other subscribers: a Qt socket per subscriber (UTF-8 decoded to a QString per
// frame, a signal per message) made the load generator, not the server, the bottleneck at 100
// subscribers and 1,000,000 deliveries/s.
class Subscriber
{
public:
    Subscriber(const Options &o, qint64 expected)
        : m_expected(expected)
    {
        const QUrl url(o.url);
        m_host = url.host().toStdString();
        m_port = quint16(url.port(80));
        m_path = "/ws/runs/" + o.run.toStdString();
        if (!o.token.isEmpty())
            m_path += "?token=" + o.token.toStdString();
    }
    ~Subscriber() { closeSocket(); }

    // Connects (blocking) and sends the handshake; `since` < 0 asks for live events only.
    bool open(qint64 since)
    {
        closeSocket();
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(m_port);
        if (m_fd < 0 || inet_pton(AF_INET, m_host == "localhost" ? "127.0.0.1" : m_host.c_str(), &addr.sin_addr) != 1
            || ::connect(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
            std::fprintf(stderr, "loadgen: subscriber cannot connect to %s:%u\n", m_host.c_str(), m_port);
            return false;
        }
        const int one = 1;
        setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::string path = m_path + (m_path.find('?') == std::string::npos ? "?" : "&")
            + (since < 0 ? std::string("replay=0") : "since=" + std::to_string(since));
        const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + m_host + ":" + std::to_string(m_port)
            + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n";
        if (!writeAll(request.data(), request.size()))
            return false;
        fcntl(m_fd, F_SETFL, fcntl(m_fd, F_GETFL) | O_NONBLOCK);
        m_upgraded = false;
        m_in.clear();
        m_message.clear();
        return true;
    }
    int fd() const { return m_fd; }

    enum class Read { Open, Reopened, Ended };
    // Reads what the socket has.
    Read readable()
    {
        char buffer[65536];
        for (;;) {
            const ssize_t n = ::read(m_fd, buffer, sizeof buffer);
            if (n > 0) {
                m_in.append(buffer, size_t(n));
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            return Read::Ended; // closed, or an error
        }
        size_t pos = 0;
        if (!m_upgraded) {
            const size_t end = m_in.find("\r\n\r\n");
            if (end == std::string::npos)
                return Read::Open;
            if (m_in.compare(0, 12, "HTTP/1.1 101") != 0) {
                std::fprintf(stderr, "loadgen: subscriber handshake refused: %s\n", m_in.substr(0, m_in.find('\r')).c_str());
                return Read::Ended;
            }
            m_upgraded = true;
            pos = end + 4;
        }
        bool alive = true;
        while (alive && m_in.size() - pos >= 2) {
            const auto *p = reinterpret_cast<const unsigned char *>(m_in.data() + pos);
            const bool fin = p[0] & 0x80;
            const int opcode = p[0] & 0x0f;
            quint64 length = p[1] & 0x7f;
            size_t header = 2;
            if (length == 126) {
                if (m_in.size() - pos < 4)
                    break;
                length = (quint64(p[2]) << 8) | p[3];
                header = 4;
            } else if (length == 127) {
                if (m_in.size() - pos < 10)
                    break;
                length = 0;
                for (int i = 0; i < 8; ++i)
                    length = (length << 8) | p[2 + i];
                header = 10;
            }
            if (m_in.size() - pos - header < length)
                break;
            const char *payload = m_in.data() + pos + header;
            pos += header + size_t(length);
            switch (opcode) {
            case 0x0: // continuation
            case 0x1:
            case 0x2:
                if (fin && m_message.empty()) {
                    onMessage(payload, size_t(length));
                } else {
                    m_message.append(payload, size_t(length));
                    if (fin) {
                        onMessage(m_message.data(), m_message.size());
                        m_message.clear();
                    }
                }
                break;
            case 0x8: { // close: a subscriber cut loose for lagging resumes where it left off
                const int code = length >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]) : 0;
                if (code == 4008) {
                    ++cutLoose;
                    return open(lastSeq) ? Read::Reopened : Read::Ended;
                }
                alive = false;
                break;
            }
            case 0x9: // ping: answer with a masked pong carrying the same payload
                sendControl(0xA, payload, size_t(length));
                break;
            default:
                break;
            }
        }
        m_in.erase(0, pos);
        return alive ? Read::Open : Read::Ended;
    }

    std::atomic<int> cutLoose{0};
    std::atomic<bool> welcomed{false};
    std::atomic<qint64> received{0};
    qint64 lastSeq = 0;
    qint64 duplicates = 0;
    std::vector<qint64> latencies;

private:
    static qint64 numberAfter(const char *&p, const char *end)
    {
        while (p < end && (*p == ' ' || *p == ':'))
            ++p;
        qint64 v = 0;
        bool any = false;
        while (p < end && *p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            ++p;
            any = true;
        }
        return any ? v : -1;
    }
    static const char *find(const char *from, const char *end, const char *needle, size_t size)
    {
        if (from >= end)
            return nullptr;
        return static_cast<const char *>(memmem(from, size_t(end - from), needle, size));
    }
    // Envelopes are scanned, not parsed: every "seq" key starts an envelope (single or inside a
    // batch frame); the next "t" key before the following "seq" is the producer's send time.
    // Whitespace after ':' is allowed, as other servers write it.
    void onMessage(const char *text, size_t size)
    {
        const qint64 now = monoNs();
        const char *end = text + size;
        const char *p = find(text, end, "\"seq\"", 5);
        if (!p) {
            if (find(text, end, "welcome", 7) || std::string_view(text, size).substr(0, 12) == "{\"client_id\"")
                welcomed = true;
            return;
        }
        while (p) {
            p += 5;
            const qint64 seq = numberAfter(p, end);
            const char *next = find(p, end, "\"seq\"", 5);
            if (seq < 0) {
                p = next;
                continue;
            }
            if (seq <= lastSeq)
                ++duplicates;
            lastSeq = qMax(lastSeq, seq);
            const qint64 count = ++received;
            if (count % 7 == 0 || m_expected < 50000) {
                const char *t = find(p, next ? next : end, "\"t\"", 3);
                if (t) {
                    t += 3;
                    const qint64 sent = numberAfter(t, end);
                    if (sent > 0)
                        latencies.push_back(now - sent);
                }
            }
            p = next;
        }
    }
    bool writeAll(const char *data, size_t size)
    {
        while (size > 0) {
            const ssize_t n = ::write(m_fd, data, size);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0)
                return false;
            data += n;
            size -= size_t(n);
        }
        return true;
    }
    void sendControl(int opcode, const char *payload, size_t size)
    {
        std::string frame;
        frame.push_back(char(0x80 | opcode));
        frame.push_back(char(0x80 | size)); // control payloads are at most 125 bytes
        const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
        frame.append(reinterpret_cast<const char *>(mask), 4);
        for (size_t i = 0; i < size; ++i)
            frame.push_back(char(payload[i] ^ mask[i % 4]));
        writeAll(frame.data(), frame.size());
    }
    void closeSocket()
    {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    }

    qint64 m_expected;
    std::string m_host;
    quint16 m_port = 0;
    std::string m_path;
    int m_fd = -1;
    bool m_upgraded = false;
    std::string m_in;
    std::string m_message;
};

// Drives a share of the subscribers with epoll until told to stop.
class SubscriberThread
{
public:
    explicit SubscriberThread(std::vector<Subscriber *> subs)
        : m_subs(std::move(subs))
    {
        m_thread = std::thread([this] { run(); });
    }
    ~SubscriberThread()
    {
        m_stop = true;
        m_thread.join();
    }
    std::atomic<bool> failed{false};

private:
    void run()
    {
        const int ep = epoll_create1(EPOLL_CLOEXEC);
        auto watch = [ep](Subscriber *s) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.ptr = s;
            epoll_ctl(ep, EPOLL_CTL_ADD, s->fd(), &ev);
        };
        for (Subscriber *s : m_subs) {
            if (!s->open(-1)) {
                failed = true;
                continue;
            }
            watch(s);
        }
        epoll_event events[256];
        while (!m_stop) {
            const int n = epoll_wait(ep, events, 256, 50);
            for (int i = 0; i < n; ++i) {
                auto *s = static_cast<Subscriber *>(events[i].data.ptr);
                const int fd = s->fd();
                switch (s->readable()) {
                case Subscriber::Read::Open:
                    break;
                case Subscriber::Read::Reopened: // after a 4008 close; the old descriptor left the set when closed
                    watch(s);
                    break;
                case Subscriber::Read::Ended:
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
                    break;
                }
            }
        }
        ::close(ep);
    }
    std::vector<Subscriber *> m_subs;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
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
        const QString text = QString::fromUtf8(out);
        m_inFlight.insert(m_nextId, text);
        m_socket.sendTextMessage(text);
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
            m_inFlight.remove(obj.value(QLatin1String("id")).toInteger());
            *m_acked += obj.value(QLatin1String("seq")).toArray().size();
            if (m_o.rate <= 0 && m_sent < m_count)
                sendBatch(qMin<qint64>(m_o.batch, m_count - m_sent));
        } else if (type == QLatin1String("error") && obj.value(QLatin1String("code")) == QLatin1String("RATE_LIMITED")
                   && m_inFlight.contains(obj.value(QLatin1String("id")).toInteger())) {
            // Over the server's per-producer rate limit: nothing was stored; send the same publish
            // again when the server says, as a client should. Counted, and shown at the end.
            ++rateLimited;
            const QString again = m_inFlight.value(obj.value(QLatin1String("id")).toInteger());
            QTimer::singleShot(int(qMax<qint64>(1, obj.value(QLatin1String("retry_after_ms")).toInteger())), this,
                               [this, again] { m_socket.sendTextMessage(again); });
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
    QHash<qint64, QString> m_inFlight; // publishes sent and not acked yet, by id
    std::atomic<qint64> rateLimited{0};
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
    std::vector<std::unique_ptr<Subscriber>> subs;
    for (int i = 0; i < o.subscribers; ++i)
        subs.emplace_back(new Subscriber(o, o.events));
    std::vector<std::unique_ptr<SubscriberThread>> subThreads;
    for (int t = 0; t < o.subThreads && t < o.subscribers; ++t) {
        std::vector<Subscriber *> share;
        for (size_t i = size_t(t); i < subs.size(); i += size_t(o.subThreads))
            share.push_back(subs[i].get());
        subThreads.emplace_back(new SubscriberThread(std::move(share)));
    }
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
    auto anyFailed = [&] {
        return std::any_of(subThreads.begin(), subThreads.end(), [](const auto &t) { return bool(t->failed); });
    };
    while (!allUp() && !anyFailed() && wait.elapsed() < 120000)
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
    subThreads.clear(); // joins them

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
    qint64 limited = 0;
    for (auto &p : producers)
        limited += p->rateLimited;
    if (limited > 0)
        std::printf("rate_limited_publishes_resent %lld (the server's --max-events-per-second / --max-bytes-per-second)\n",
                    static_cast<long long>(limited));
    if (serverPid > 0)
        std::printf("server_rss_mb %.1f peak_rss_mb %.1f cpu_s %.2f\n", double(after.rssKb) / 1024.0, double(after.hwmKb) / 1024.0,
                    after.cpuS - before.cpuS);
    subs.clear();
    for (auto &socket : idleHeld)
        socket->abort();
    producers.clear();
    if (server.state() != QProcess::NotRunning) {
        server.terminate();
        server.waitForFinished(5000);
    }
    return (expectedDeliveries - (got - dups)) == 0 && dups == 0 ? 0 : 1;
}
