// Integration tests of the server's limits (message size, events per publish, lagging
// subscribers, handshake timeout, keepalive, HTTP body and head size, producer rates, runs,
// metric names, string lengths) and of the rule that a bad
// frame never hurts a good connection: real QWebSocket clients, QNetworkAccessManager and raw
// QTcpSocket clients against a real Server on 127.0.0.1, port 0.

#include "testsupport.h"

#include "endpoint.h"
#include "hub.h"
#include "httpconnection.h"
#include "wsclient.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QTest>
#include <QtEndian>

#include <limits>
#include <memory>

using namespace Runwatch;

namespace {

const QLatin1String kType("type");
const QLatin1String kSeq("seq");
const QLatin1String kRun("run");
const QLatin1String kId("id");
const QLatin1String kCode("code");

using Probe = Test::WsProbe;
using ProbePtr = std::unique_ptr<Probe>;
using Test::answerTo;
using Test::HttpResult;
using Test::httpCall;
using Test::nextId;
using Test::ofType;
using Test::openProbe;
using Test::publishAcked;
using Test::seqList;
using Test::sync;
using Test::waitAnswer;

QJsonArray logEvents(const QString &run, int count, int padding = 0, int first = 0)
{
    QJsonArray out;
    const QString pad(padding, QLatin1Char('p'));
    for (int i = 0; i < count; ++i)
        out.append(Test::event(run, QStringLiteral("log"),
                               {{QStringLiteral("level"), QStringLiteral("info")},
                                {QStringLiteral("message"), QStringLiteral("line %1 %2").arg(first + i).arg(pad)}}));
    return out;
}

QString describe(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

// Envelope seqs in one text message: an envelope or a batch of them.
QVector<qint64> seqsInMessage(const QByteArray &text)
{
    QVector<qint64> out;
    const QJsonObject object = QJsonDocument::fromJson(text).object();
    if (object.value(kType).toString() == QLatin1String("batch")) {
        for (const QJsonValue &e : object.value(QStringLiteral("events")).toArray())
            out.append(qint64(e.toObject().value(kSeq).toDouble()));
    } else if (object.value(kSeq).isDouble()) {
        out.append(qint64(object.value(kSeq).toDouble()));
    }
    return out;
}

// A frame header and masked payload put together by hand, flags and all.
QByteArray rawFrame(quint8 firstByte, const QByteArray &payload, bool masked = true, qint64 claimedLength = -1)
{
    QByteArray frame;
    frame.append(char(firstByte));
    const qint64 length = claimedLength >= 0 ? claimedLength : payload.size();
    const char maskBit = masked ? char(0x80) : char(0);
    if (length < 126) {
        frame.append(char(maskBit | char(length)));
    } else if (length < 65536) {
        frame.append(char(maskBit | 126));
        frame.append(char((length >> 8) & 0xff));
        frame.append(char(length & 0xff));
    } else {
        frame.append(char(maskBit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(char((quint64(length) >> shift) & 0xff));
    }
    const char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked)
        frame.append(key, 4);
    for (qsizetype i = 0; i < payload.size(); ++i)
        frame.append(masked ? char(payload.at(i) ^ key[i % 4]) : payload.at(i));
    return frame;
}

// A WebSocket client written by hand on a QTcpSocket, for what QWebSocket cannot be made to do:
// stop reading, or never answer pings.
class RawWs
{
public:
    struct Message {
        int opcode = 0;
        QByteArray payload;
    };

    bool connectTo(quint16 port)
    {
        m_port = port;
        socket.connectToHost(QHostAddress(QHostAddress::LocalHost), port);
        return QTest::qWaitFor([this] { return socket.state() == QAbstractSocket::ConnectedState; }, 5000);
    }

    // Connects, sends the upgrade request and waits for the 101 answer.
    bool handshake(quint16 port, const QString &path)
    {
        if (!connectTo(port))
            return false;
        QByteArray nonce(16, Qt::Uninitialized);
        for (char &c : nonce)
            c = char(QRandomGenerator::global()->bounded(256));
        socket.write("GET " + path.toUtf8() + " HTTP/1.1\r\n"
                     "Host: 127.0.0.1:" + QByteArray::number(port) + "\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " + nonce.toBase64() + "\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n");
        if (!QTest::qWaitFor([this] {
                m_buffer += socket.readAll();
                return m_buffer.contains("\r\n\r\n") || socket.state() == QAbstractSocket::UnconnectedState;
            }, 5000))
            return false;
        const int end = int(m_buffer.indexOf("\r\n\r\n"));
        if (end < 0)
            return false;
        response = m_buffer.left(end + 4);
        m_buffer.remove(0, end + 4);
        parse();
        return response.startsWith("HTTP/1.1 101");
    }

    // Reads what arrived and parses complete frames.
    void pump()
    {
        m_buffer += socket.readAll();
        parse();
    }

    bool isClosed() const { return socket.state() == QAbstractSocket::UnconnectedState; }

    // A masked frame, as a client must send it.
    void sendFrame(int opcode, const QByteArray &payload) { socket.write(rawFrame(quint8(0x80 | opcode), payload)); }

    // The close code of a received close frame, or -1.
    int closeCode() const
    {
        for (const Message &m : messages) {
            if (m.opcode == 0x8 && m.payload.size() >= 2)
                return qFromBigEndian<quint16>(m.payload.constData());
        }
        return -1;
    }
    int count(int opcode) const
    {
        int n = 0;
        for (const Message &m : messages)
            n += m.opcode == opcode ? 1 : 0;
        return n;
    }
    QVector<qint64> seqs() const
    {
        QVector<qint64> out;
        for (const Message &m : messages) {
            if (m.opcode == 0x1)
                out += seqsInMessage(m.payload);
        }
        return out;
    }

    QTcpSocket socket;
    QByteArray response;
    QVector<Message> messages; // complete messages, control frames included
    bool protocolError = false;

private:
    void parse()
    {
        for (;;) {
            if (m_buffer.size() < 2)
                return;
            const quint8 b0 = quint8(m_buffer.at(0));
            const quint8 b1 = quint8(m_buffer.at(1));
            if (b1 & 0x80)
                protocolError = true; // a server must not mask
            qint64 length = b1 & 0x7f;
            int header = 2;
            if (length == 126) {
                if (m_buffer.size() < 4)
                    return;
                length = qFromBigEndian<quint16>(m_buffer.constData() + 2);
                header = 4;
            } else if (length == 127) {
                if (m_buffer.size() < 10)
                    return;
                length = qint64(qFromBigEndian<quint64>(m_buffer.constData() + 2));
                header = 10;
            }
            if (m_buffer.size() < header + length)
                return;
            const QByteArray payload = m_buffer.mid(header, length);
            m_buffer.remove(0, header + int(length));
            const bool fin = b0 & 0x80;
            const int opcode = b0 & 0x0f;
            if (opcode >= 0x8) {
                messages.append(Message{opcode, payload});
                continue;
            }
            if (opcode != 0)
                m_partial = Message{opcode, QByteArray()};
            m_partial.payload += payload;
            if (fin) {
                messages.append(m_partial);
                m_partial = Message();
            }
        }
    }

    quint16 m_port = 0;
    QByteArray m_buffer;
    Message m_partial;
};

qint64 laggingDropped(Server &server)
{
    qint64 value = -1;
    Hub *hub = server.hub();
    QMetaObject::invokeMethod(
        hub, [&] { value = hub->counters().laggingDropped; }, Qt::BlockingQueuedConnection);
    return value;
}

// Reads a raw HTTP answer until the server closes or a complete head (and body) arrived.
QByteArray rawHttp(quint16 port, const QByteArray &request, int timeoutMs = 10000)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), port);
    if (!socket.waitForConnected(5000))
        return QByteArray();
    socket.write(request);
    QByteArray answer;
    (void)QTest::qWaitFor(
        [&] {
            answer += socket.readAll();
            const int end = int(answer.indexOf("\r\n\r\n"));
            if (end >= 0) {
                const int cl = int(answer.toLower().indexOf("content-length:"));
                if (cl >= 0 && cl < end) {
                    const int eol = int(answer.indexOf("\r\n", cl));
                    const int length = answer.mid(cl + 15, eol - cl - 15).trimmed().toInt();
                    if (answer.size() >= end + 4 + length)
                        return true;
                }
            }
            return socket.state() == QAbstractSocket::UnconnectedState;
        },
        timeoutMs);
    answer += socket.readAll();
    return answer;
}

int statusOf(const QByteArray &response)
{
    // "HTTP/1.1 413 Content Too Large"
    if (!response.startsWith("HTTP/1."))
        return 0;
    return response.mid(9, 3).toInt();
}

// The body of a raw HTTP answer.
QByteArray bodyOf(const QByteArray &response)
{
    const int end = int(response.indexOf("\r\n\r\n"));
    return end < 0 ? QByteArray() : response.mid(end + 4);
}

QByteArray headerOf(const QByteArray &response, const QByteArray &name)
{
    const int end = int(response.indexOf("\r\n\r\n"));
    for (const QByteArray &line : response.left(end).split('\n')) {
        const int colon = int(line.indexOf(':'));
        if (colon > 0 && line.left(colon).trimmed().toLower() == name.toLower())
            return line.mid(colon + 1).trimmed();
    }
    return QByteArray();
}

QByteArray postRequest(const QByteArray &body)
{
    return "POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
        + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

QJsonArray metricEvents(const QString &run, const QStringList &names, int step)
{
    QJsonObject data{{QStringLiteral("step"), step}};
    for (const QString &name : names)
        data.insert(name, 0.5);
    return QJsonArray{Test::event(run, QStringLiteral("metric"), data)};
}

// Publishes and returns the answer (ack or error).
QJsonObject publishAnswer(Test::WsProbe &producer, const QJsonArray &events)
{
    const QString id = Test::nextId();
    producer.send(Test::publishOp(events, id));
    return Test::waitAnswer(producer, id);
}

} // namespace

class TestLimits : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void messageOverLimitCloses1009_data();
    void messageOverLimitCloses1009();
    void tooManyEventsPerPublish_data();
    void tooManyEventsPerPublish();
    void laggingSubscriberIsCutAndResumes();
    void handshakeTimeout_data();
    void handshakeTimeout();
    void keepalive();
    void httpLimitsRaw_data();
    void httpLimitsRaw();
    void httpLimitsNam_data();
    void httpLimitsNam();
    void badFrameKeepsConnection_data();
    void badFrameKeepsConnection();
    void producerEventRate();
    void producerByteRate();
    void httpProducerRate();
    void runLimit();
    void metricNameLimit();
    void stringLengthLimit_data();
    void stringLengthLimit();
    void hostileFrames_data();
    void hostileFrames();
    void repliesAreBounded_data();
    void repliesAreBounded();
    void preAuthMessageLimit();
    void authDeadline();
    void unsolicitedPongsAreNoSignOfLife();
    void failedAuthCloses();
    void httpUnreadAnswersAreBounded();
    void httpSlowBodyIsFine();
    void httpFailedAuthCloses();
};

void TestLimits::messageOverLimitCloses1009_data()
{
    QTest::addColumn<int>("frameSize"); // 0: QWebSocket's default (one frame)
    QTest::addColumn<bool>("binary");
    QTest::newRow("one text frame") << 0 << false;
    QTest::newRow("fragmented text message") << 8 * 1024 << false;
    QTest::newRow("one binary frame") << 0 << true;
}

void TestLimits::messageOverLimitCloses1009()
{
    QFETCH(int, frameSize);
    QFETCH(bool, binary);
    ServerConfig config;
    config.maxMessageBytes = 64 * 1024;
    Test::TestServer srv(config);
    QVERIFY(srv.start());

    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/big")));
    ProbePtr offender = openProbe(srv.ws(QStringLiteral("/ws")));
    for (Probe *p : {producer.get(), sub.get(), offender.get()}) {
        QVERIFY(p->waitConnected());
        QVERIFY(!p->waitMessage(QStringLiteral("welcome")).isEmpty());
    }
    QVector<qint64> expected = publishAcked(*producer, logEvents(QStringLiteral("big"), 3));
    QCOMPARE(expected.size(), 3);
    // Under the limit is fine, also from the offender.
    const QVector<qint64> under = publishAcked(*offender, logEvents(QStringLiteral("big"), 40, 1000));
    QCOMPARE(under.size(), 40);
    expected += under;

    // A valid publish op of about 100 KiB: over the limit, so none of it may be accepted.
    const QByteArray op = QJsonDocument(Test::publishOp(logEvents(QStringLiteral("big"), 100, 1000), QStringLiteral("over")))
                              .toJson(QJsonDocument::Compact);
    QVERIFY(op.size() > config.maxMessageBytes);
    if (frameSize > 0)
        offender->socket().setOutgoingFrameSize(quint64(frameSize));
    if (binary)
        offender->socket().sendBinaryMessage(op);
    else
        offender->sendText(QString::fromUtf8(op));
    QVERIFY2(offender->waitClosed(10000), "a message over maxMessageBytes must close the connection");
    QCOMPARE(offender->closeCode(), 1009);
    QCOMPARE(ofType(*offender, QStringLiteral("ack")).size(), 1);

    // Nobody else noticed.
    const QVector<qint64> after = publishAcked(*producer, logEvents(QStringLiteral("big"), 2));
    QCOMPARE(after.size(), 2);
    expected += after;
    QVERIFY(sub->waitEvents(int(expected.size())));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), expected);
    QVERIFY(producer->isConnected());
    QVERIFY(sub->isConnected());
    ProbePtr fresh = openProbe(srv.ws(QStringLiteral("/ws/runs/big")));
    QVERIFY(fresh->waitConnected());
    QVERIFY(fresh->waitEvents(int(expected.size())));
    QVERIFY(sync(*fresh));
    QCOMPARE(fresh->seqs(), expected);
}

void TestLimits::tooManyEventsPerPublish_data()
{
    QTest::addColumn<int>("count");
    QTest::addColumn<bool>("accepted");
    QTest::newRow("limit") << 50 << true;
    QTest::newRow("limit + 1") << 51 << false;
    QTest::newRow("20 x limit") << 1000 << false;
}

void TestLimits::tooManyEventsPerPublish()
{
    QFETCH(int, count);
    QFETCH(bool, accepted);
    ServerConfig config;
    config.maxEventsPerPublish = 50;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/many")));
    QVERIFY(producer->waitConnected());
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());

    QVector<qint64> expected = publishAcked(*producer, logEvents(QStringLiteral("many"), 2));
    QCOMPARE(expected.size(), 2);
    producer->send(Test::publishOp(logEvents(QStringLiteral("many"), count), QStringLiteral("bulk")));
    const QJsonObject answer = waitAnswer(*producer, QStringLiteral("bulk"));
    if (accepted) {
        QVERIFY2(answer.value(kType).toString() == QLatin1String("ack"), qPrintable(describe(answer)));
        QCOMPARE(answer.value(kSeq).toArray().size(), count);
        expected += seqList(answer.value(kSeq).toArray());
    } else {
        QCOMPARE(answer.value(kType).toString(), QStringLiteral("error"));
        QCOMPARE(answer.value(kCode).toString(), QStringLiteral("TOO_LARGE"));
    }
    QVERIFY(sync(*producer));
    QVERIFY(producer->isConnected());
    const QVector<qint64> after = publishAcked(*producer, logEvents(QStringLiteral("many"), 3));
    QCOMPARE(after.size(), 3);
    expected += after;
    QVERIFY(sub->waitEvents(int(expected.size())));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), expected);
}

void TestLimits::laggingSubscriberIsCutAndResumes()
{
    ServerConfig config;
    config.maxQueueBytes = 256 * 1024;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr good = openProbe(srv.ws(QStringLiteral("/ws/runs/lag")));
    QVERIFY(producer->waitConnected());
    QVERIFY(good->waitConnected());
    QVERIFY(!good->waitMessage(QStringLiteral("welcome")).isEmpty());

    RawWs slow;
    QVERIFY2(slow.handshake(srv.port(), QStringLiteral("/ws/runs/lag")), slow.response.constData());
    QVERIFY(QTest::qWaitFor([&] { slow.pump(); return slow.count(0x1) >= 1; }, 5000)); // welcome
    // From now on the slow client takes at most a few KiB and then stops reading.
    slow.socket.setReadBufferSize(4096);

    // Publish about 32 KiB at a time until the server gives up on the slow client.
    QVector<qint64> expected;
    qint64 dropped = 0;
    int ops = 0;
    for (; ops < 4000 && dropped == 0; ++ops) {
        const QVector<qint64> seqs = publishAcked(*producer, logEvents(QStringLiteral("lag"), 8, 4000, ops * 8));
        QCOMPARE(seqs.size(), 8);
        expected += seqs;
        dropped = laggingDropped(srv.server());
    }
    QVERIFY2(dropped == 1, qPrintable(QStringLiteral("dropped %1 after %2 ops").arg(dropped).arg(ops)));
    qInfo("slow client cut after %d ops (%d events)", ops, int(expected.size()));

    // Read what the server still sends: the queued events, then a close frame with 4008.
    slow.socket.setReadBufferSize(0);
    QVERIFY(QTest::qWaitFor([&] { slow.pump(); return slow.closeCode() != -1 || slow.isClosed(); }, 10000));
    slow.pump();
    QVERIFY(!slow.protocolError);
    QCOMPARE(slow.closeCode(), 4008);
    // What it got before the close frame is a gap-free prefix of what was published (the events
    // queued for it when it was cut may or may not still be sent).
    const QVector<qint64> slowSeqs = slow.seqs();
    QCOMPARE(slowSeqs, expected.mid(0, slowSeqs.size()));

    // More events after the cut; the good subscriber gets everything, exactly once.
    for (int i = 0; i < 10; ++i) {
        const QVector<qint64> seqs = publishAcked(*producer, logEvents(QStringLiteral("lag"), 8, 100, 900000 + i * 8));
        QCOMPARE(seqs.size(), 8);
        expected += seqs;
    }
    QVERIFY2(good->waitEvents(int(expected.size()), 30000),
             qPrintable(QStringLiteral("good subscriber got %1 of %2").arg(good->events().size()).arg(expected.size())));
    QVERIFY(sync(*good));
    QCOMPARE(good->seqs(), expected);
    QVERIFY(good->isConnected());
    QCOMPARE(good->closeCode(), -1);

    // The slow client resumes after the last seq it got and misses nothing.
    const qint64 since = slowSeqs.isEmpty() ? 0 : slowSeqs.last();
    ProbePtr resumed = openProbe(srv.ws(QStringLiteral("/ws/runs/lag?since=%1").arg(since)));
    QVERIFY(resumed->waitConnected());
    const int rest = int(expected.size()) - int(slowSeqs.size());
    QVERIFY2(resumed->waitEvents(rest, 30000), qPrintable(QStringLiteral("resumed got %1 of %2").arg(resumed->events().size()).arg(rest)));
    const QVector<qint64> more = publishAcked(*producer, logEvents(QStringLiteral("lag"), 5));
    QCOMPARE(more.size(), 5);
    expected += more;
    QVERIFY(resumed->waitEvents(rest + 5));
    QVERIFY(sync(*resumed));
    QCOMPARE(slowSeqs + resumed->seqs(), expected);
}

void TestLimits::handshakeTimeout_data()
{
    QTest::addColumn<QByteArray>("sent");
    QTest::newRow("nothing") << QByteArray();
    QTest::newRow("half a request line") << QByteArrayLiteral("GET /heal");
    QTest::newRow("half a request head") << QByteArrayLiteral("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    QTest::newRow("half an upgrade head") << QByteArrayLiteral("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    QTest::newRow("head without the body") << QByteArrayLiteral("POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"run\":");
}

void TestLimits::handshakeTimeout()
{
    QFETCH(QByteArray, sent);
    ServerConfig config;
    config.handshakeTimeoutMs = 300;
    config.httpBodyTimeoutMs = 300;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr good = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(good->waitConnected());

    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), srv.port());
    QVERIFY(socket.waitForConnected(5000));
    if (!sent.isEmpty())
        socket.write(sent);
    QByteArray answer;
    const bool closed = QTest::qWaitFor(
        [&] {
            answer += socket.readAll();
            return socket.state() == QAbstractSocket::UnconnectedState;
        },
        10000);
    answer += socket.readAll();
    QVERIFY2(closed, "a connection that does not complete its request must be closed");
    if (!answer.isEmpty())
        QVERIFY2(statusOf(answer) == 408, answer.left(200).constData());

    // The good client, past the handshake, is not affected by the timeout. A fixed wait is the
    // point: staying well past the deadline proves it did not fire for this client.
    QTest::qWait(2 * config.handshakeTimeoutMs);
    QVERIFY(good->isConnected());
    QVERIFY(sync(*good));
}

void TestLimits::keepalive()
{
    ServerConfig config;
    config.pingIntervalMs = 200;
    config.keepaliveTimeoutMs = 800;
    Test::TestServer srv(config);
    QVERIFY(srv.start());

    ProbePtr good = openProbe(srv.ws(QStringLiteral("/ws/runs/ka")));
    QVERIFY(good->waitConnected());
    QVERIFY(!good->waitMessage(QStringLiteral("welcome")).isEmpty());

    RawWs mute;   // reads everything, never answers
    RawWs polite; // answers every ping with a pong, never sends anything else
    QVERIFY2(mute.handshake(srv.port(), QStringLiteral("/ws/runs/ka")), mute.response.constData());
    QVERIFY2(polite.handshake(srv.port(), QStringLiteral("/ws/runs/ka")), polite.response.constData());

    int pongsSent = 0;
    auto servePolite = [&] {
        polite.pump();
        const int pings = polite.count(0x9);
        for (; pongsSent < pings; ++pongsSent) {
            QByteArray payload;
            int seen = 0;
            for (const RawWs::Message &m : std::as_const(polite.messages)) {
                if (m.opcode == 0x9 && seen++ == pongsSent) {
                    payload = m.payload;
                    break;
                }
            }
            polite.sendFrame(0xA, payload);
        }
    };

    const bool dropped = QTest::qWaitFor(
        [&] {
            mute.pump();
            servePolite();
            return mute.isClosed();
        },
        10000);
    QVERIFY2(dropped, "a client that never answers pings must be dropped");
    QVERIFY2(mute.count(0x9) >= 1, "the server pings a silent client before dropping it");

    // The clients that answer pings stay, well past the keepalive timeout (a fixed time on purpose:
    // it proves the timeout does not fire; the 20 ms steps pace the pong answers).
    QElapsedTimer waited;
    waited.start();
    while (waited.elapsed() < 3 * config.keepaliveTimeoutMs) {
        servePolite();
        QTest::qWait(20);
    }
    servePolite();
    QVERIFY2(good->isConnected(), qPrintable(QStringLiteral("close code %1").arg(good->closeCode())));
    QVERIFY(!polite.isClosed());
    QVERIFY(pongsSent >= 1);
    QVERIFY(sync(*good));

    // And they still get events.
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    const QVector<qint64> seqs = publishAcked(*producer, logEvents(QStringLiteral("ka"), 2));
    QCOMPARE(seqs.size(), 2);
    QVERIFY(good->waitEvents(2));
    QVERIFY(QTest::qWaitFor([&] { servePolite(); return polite.seqs().size() >= 2; }, 10000));
    QCOMPARE(polite.seqs(), seqs);
}

void TestLimits::httpLimitsRaw_data()
{
    // %PORT% in the request is replaced by the server's port.
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    const QByteArray host = "Host: 127.0.0.1:%PORT%\r\n";
    const QByteArray event = "{\"run\":\"h\",\"type\":\"log\",\"data\":{\"message\":\"x\"}}";

    QTest::newRow("declared body over limit") << QByteArray("POST /api/events HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n") << 413;
    QTest::newRow("body over limit, sent in full") << QByteArray("POST /api/events HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + QByteArray(100000, ' ')) << 413;
    QTest::newRow("body under limit") << QByteArray("POST /api/events HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " + QByteArray::number(event.size()) + "\r\n\r\n" + event) << 200;
    QByteArray chunked = "POST /api/events HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 5; ++i)
        chunked += "4000\r\n" + QByteArray(0x4000, ' ') + "\r\n";
    chunked += "0\r\n\r\n";
    QTest::newRow("chunked body over limit") << chunked << 413;
    QTest::newRow("header over limit") << QByteArray("GET /healthz HTTP/1.1\r\n" + host + "X-Filler: " + QByteArray(16 * 1024, 'a') + "\r\n\r\n") << 431;
    QByteArray manyLines = "GET /healthz HTTP/1.1\r\n" + host;
    for (int i = 0; i < 1000; ++i)
        manyLines += "X-Line-" + QByteArray::number(i) + ": 0123456789\r\n";
    manyLines += "\r\n";
    QTest::newRow("many header lines over limit") << manyLines << 431;
    QTest::newRow("header over limit, never ending") << QByteArray("GET /healthz HTTP/1.1\r\n" + host + "X-Filler: " + QByteArray(16 * 1024, 'a')) << 431;
    QTest::newRow("header under limit") << QByteArray("GET /healthz HTTP/1.1\r\n" + host + "Connection: close\r\nX-Filler: " + QByteArray(4 * 1024, 'a') + "\r\n\r\n") << 200;
    QTest::newRow("websocket upgrade with header over limit") << QByteArray("GET /ws HTTP/1.1\r\n" + host + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Filler: " + QByteArray(16 * 1024, 'a') + "\r\n\r\n") << 431;
}

void TestLimits::httpLimitsRaw()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    ServerConfig config;
    config.maxMessageBytes = 64 * 1024;
    config.maxHeaderBytes = 8 * 1024;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    request.replace("%PORT%", QByteArray::number(srv.port()));
    const QByteArray answer = rawHttp(srv.port(), request);
    QVERIFY2(statusOf(answer) == status, answer.left(300).constData());

    // The server is fine afterwards.
    QNetworkAccessManager nam;
    QCOMPARE(httpCall(nam, "GET", srv.http(QStringLiteral("/healthz"))).status, 200);
}

void TestLimits::httpLimitsNam_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("bodyEvents");   // events of ~1 KiB in the body
    QTest::addColumn<int>("headerBytes");  // size of an extra header
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("errorCode");
    QTest::newRow("body under limit") << QByteArray("POST") << QStringLiteral("/api/events") << 40 << 0 << 200 << QString();
    QTest::newRow("body over limit") << QByteArray("POST") << QStringLiteral("/api/events") << 100 << 0 << 413 << QStringLiteral("TOO_LARGE");
    QTest::newRow("body far over limit") << QByteArray("POST") << QStringLiteral("/api/events") << 1000 << 0 << 413 << QStringLiteral("TOO_LARGE");
    QTest::newRow("header under limit") << QByteArray("GET") << QStringLiteral("/api/runs") << 0 << 4 * 1024 << 200 << QString();
    QTest::newRow("header over limit") << QByteArray("GET") << QStringLiteral("/api/runs") << 0 << 16 * 1024 << 431 << QString();
}

void TestLimits::httpLimitsNam()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(int, bodyEvents);
    QFETCH(int, headerBytes);
    QFETCH(int, status);
    QFETCH(QString, errorCode);
    ServerConfig config;
    config.maxMessageBytes = 64 * 1024;
    config.maxHeaderBytes = 8 * 1024;
    Test::TestServer srv(config);
    QVERIFY(srv.start());

    QByteArray body;
    if (bodyEvents > 0)
        body = QJsonDocument(logEvents(QStringLiteral("h"), bodyEvents, 1000)).toJson(QJsonDocument::Compact);
    Test::HttpHeaders headers;
    if (headerBytes > 0)
        headers.append({QByteArrayLiteral("X-Filler"), QByteArray(headerBytes, 'a')});
    QNetworkAccessManager nam;
    const HttpResult result = httpCall(nam, method, srv.http(path), QByteArray(), body, headers);
    QVERIFY2(result.status == status, qPrintable(QStringLiteral("status %1: %2").arg(result.status).arg(QString::fromUtf8(result.body.left(300)))));
    if (!errorCode.isEmpty())
        QCOMPARE(result.errorCode(), errorCode);

    // Nothing of a refused body was stored; the server keeps serving.
    const int runStatus = httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/h"))).status;
    if (bodyEvents > 0)
        QCOMPARE(runStatus, status == 200 ? 200 : 404);
    QCOMPARE(httpCall(nam, "GET", srv.http(QStringLiteral("/healthz"))).status, 200);
}

void TestLimits::badFrameKeepsConnection_data()
{
    QTest::addColumn<QString>("frame");
    QTest::addColumn<bool>("binary");
    QTest::addColumn<QString>("code");
    const QString json = QStringLiteral("INVALID_JSON");
    const QString event = QStringLiteral("INVALID_EVENT");
    QTest::newRow("not json") << QStringLiteral("{{{") << false << json;
    QTest::newRow("array") << QStringLiteral("[1,2,3]") << false << json;
    QTest::newRow("null") << QStringLiteral("null") << false << json;
    QTest::newRow("binary") << QStringLiteral("{\"op\":\"publish\",\"event\":{\"run\":\"g\",\"type\":\"log\",\"data\":{\"message\":\"b\"}}}") << true << json;
    QTest::newRow("unknown op") << QStringLiteral("{\"op\":\"frobnicate\",\"id\":\"bad\"}") << false << QStringLiteral("UNKNOWN_OP");
    QTest::newRow("missing op") << QStringLiteral("{\"id\":\"bad\"}") << false << QStringLiteral("UNKNOWN_OP");
    const QString request = QStringLiteral("INVALID_REQUEST");
    QTest::newRow("publish without events") << QStringLiteral("{\"op\":\"publish\",\"id\":\"bad\"}") << false << request;
    QTest::newRow("event without run") << QStringLiteral("{\"op\":\"publish\",\"id\":\"bad\",\"event\":{\"type\":\"log\",\"data\":{\"message\":\"x\"}}}") << false << event;
    QTest::newRow("bad run id") << QStringLiteral("{\"op\":\"publish\",\"id\":\"bad\",\"event\":{\"run\":\"a b/c\",\"type\":\"log\",\"data\":{\"message\":\"x\"}}}") << false << event;
    QTest::newRow("data not an object") << QStringLiteral("{\"op\":\"publish\",\"id\":\"bad\",\"event\":{\"run\":\"g\",\"type\":\"log\",\"data\":5}}") << false << event;
    QTest::newRow("one bad event among good ones")
        << QStringLiteral("{\"op\":\"publish\",\"id\":\"bad\",\"events\":["
                          "{\"run\":\"g\",\"type\":\"log\",\"data\":{\"message\":\"would be lost\"}},"
                          "{\"run\":\"g\",\"type\":\"metric\",\"data\":{\"loss\":\"high\"}},"
                          "{\"run\":\"g\",\"type\":\"log\",\"data\":{\"message\":\"also\"}}]}")
        << false << event;
    QTest::newRow("empty events") << QStringLiteral("{\"op\":\"publish\",\"id\":\"bad\",\"events\":[]}") << false << event;
    QTest::newRow("subscribe bad run") << QStringLiteral("{\"op\":\"subscribe\",\"id\":\"bad\",\"run\":\"no spaces allowed\"}") << false << request;
    QTest::newRow("too many events") << QStringLiteral("TOO_MANY") << false << QStringLiteral("TOO_LARGE");
}

void TestLimits::badFrameKeepsConnection()
{
    QFETCH(QString, frame);
    QFETCH(bool, binary);
    QFETCH(QString, code);
    ServerConfig config;
    config.maxEventsPerPublish = 20;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/g")));
    QVERIFY(producer->waitConnected());
    QVERIFY(sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());
    if (frame == QLatin1String("TOO_MANY"))
        frame = QString::fromUtf8(QJsonDocument(Test::publishOp(logEvents(QStringLiteral("g"), 21), QStringLiteral("bad"))).toJson(QJsonDocument::Compact));

    QVector<qint64> expected = publishAcked(*producer, logEvents(QStringLiteral("g"), 5));
    QCOMPARE(expected.size(), 5);
    // An unacknowledged publish right before the bad frame, one right after.
    producer->send(Test::publishOp(logEvents(QStringLiteral("g"), 2, 0, 100)));
    if (binary)
        producer->socket().sendBinaryMessage(frame.toUtf8());
    else
        producer->sendText(frame);
    producer->send(Test::publishOp(logEvents(QStringLiteral("g"), 2, 0, 200)));
    const QVector<qint64> after = publishAcked(*producer, logEvents(QStringLiteral("g"), 5, 0, 300));
    QCOMPARE(after.size(), 5);

    const QVector<QJsonObject> errors = ofType(*producer, QStringLiteral("error"));
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.first().value(kCode).toString(), code);
    if (frame.contains(QLatin1String("\"id\":\"bad\"")) && !binary)
        QCOMPARE(errors.first().value(kId).toString(), QStringLiteral("bad"));
    QVERIFY(producer->isConnected());

    // 5 + 2 + 2 + 5 accepted events, in order, nothing of the bad frame.
    QVERIFY2(sub->waitEvents(14), qPrintable(QString::number(sub->events().size())));
    QVERIFY(sync(*sub));
    const QVector<qint64> seen = sub->seqs();
    QCOMPARE(seen.size(), 14);
    QCOMPARE(seen.mid(0, 5), expected);
    QCOMPARE(seen.mid(9), after);
    for (int i = 1; i < seen.size(); ++i)
        QVERIFY(seen.at(i) > seen.at(i - 1));
    QStringList messages;
    for (const QJsonObject &e : sub->events())
        messages.append(e.value(QStringLiteral("data")).toObject().value(QStringLiteral("message")).toString());
    QVERIFY(!messages.contains(QStringLiteral("would be lost")));
    QVERIFY(!messages.contains(QStringLiteral("b")));

    // The REST view agrees.
    QNetworkAccessManager nam;
    const HttpResult events = httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/g/events")));
    QCOMPARE(events.status, 200);
    QCOMPARE(QJsonDocument::fromJson(events.body).array().size(), 14);
}

// A producer over its events/s budget is refused whole (RATE_LIMITED, with when to come back),
// stays connected, and is let through when it comes back; other producers are not affected.
void TestLimits::producerEventRate()
{
    ServerConfig config;
    config.maxEventsPerSecond = 50; // a burst of max(2 x 50, 100 per publish) = 100 events
    config.maxEventsPerPublish = 100;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr other = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/rate")));
    QVERIFY(producer->waitConnected() && other->waitConnected() && sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());

    QVector<qint64> expected = publishAcked(*producer, logEvents(QStringLiteral("rate"), 100));
    QCOMPARE(expected.size(), 100);
    // The bucket is empty now: the next 100 need two seconds of refill.
    const QJsonObject refused = publishAnswer(*producer, logEvents(QStringLiteral("rate"), 100, 0, 100));
    QCOMPARE(refused.value(kType).toString(), QStringLiteral("error"));
    QCOMPARE(refused.value(kCode).toString(), QStringLiteral("RATE_LIMITED"));
    const qint64 retryMs = qint64(refused.value(QLatin1String("retry_after_ms")).toDouble());
    QVERIFY2(retryMs > 0 && retryMs <= 2000, qPrintable(describe(refused)));
    QVERIFY(refused.value(QLatin1String("message")).toString().contains(QLatin1String("50 events/s")));
    QVERIFY(producer->isConnected());

    // Another producer has a budget of its own.
    const QVector<qint64> fromOther = publishAcked(*other, logEvents(QStringLiteral("rate"), 100, 0, 1000));
    QCOMPARE(fromOther.size(), 100);
    expected += fromOther;

    // Small publishes still find no room until the bucket refills ...
    const QJsonObject stillRefused = publishAnswer(*producer, logEvents(QStringLiteral("rate"), 100, 0, 100));
    QCOMPARE(stillRefused.value(kCode).toString(), QStringLiteral("RATE_LIMITED"));
    // ... and the same publish goes through once the producer waited as told (a fixed wait on
    // purpose: retry_after_ms itself is what is checked).
    QTest::qWait(int(qint64(stillRefused.value(QLatin1String("retry_after_ms")).toDouble()) + 100));
    const QVector<qint64> later = publishAcked(*producer, logEvents(QStringLiteral("rate"), 100, 0, 100));
    QCOMPARE(later.size(), 100);
    expected += later;

    // Subscribers saw exactly the accepted events.
    QVERIFY(sub->waitEvents(int(expected.size())));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), expected);
    QCOMPARE(sub->events().first().value(QLatin1String("data")).toObject().value(QLatin1String("message")).toString(),
             QStringLiteral("line 0 "));
}

void TestLimits::producerByteRate()
{
    ServerConfig config;
    config.maxBytesPerSecond = 1000;
    config.maxMessageBytes = 4096; // the burst: one message of the largest size
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QVERIFY(!producer->waitMessage(QStringLiteral("welcome")).isEmpty());
    QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("bytes"), 1, 3000)).size(), 1);
    const QJsonObject refused = publishAnswer(*producer, logEvents(QStringLiteral("bytes"), 1, 3000, 1));
    QCOMPARE(refused.value(kCode).toString(), QStringLiteral("RATE_LIMITED"));
    QVERIFY(refused.value(QLatin1String("retry_after_ms")).toDouble() > 0);
    // Small publishes fit in what is left.
    QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("bytes"), 1, 10, 2)).size(), 1);
    // Waiting as told (fixed on purpose: retry_after_ms is what is checked), the large one fits again.
    QTest::qWait(int(refused.value(QLatin1String("retry_after_ms")).toDouble()) + 200);
    QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("bytes"), 1, 3000, 1)).size(), 1);
}

// HTTP producers are limited per address: 429 with Retry-After, nothing stored; reads go on.
void TestLimits::httpProducerRate()
{
    ServerConfig config;
    config.maxEventsPerSecond = 20; // burst: max(40, 50 per publish) = 50
    config.maxEventsPerPublish = 50;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    const QByteArray body = QJsonDocument(logEvents(QStringLiteral("http-rate"), 50)).toJson(QJsonDocument::Compact);
    const QByteArray first = rawHttp(srv.port(), postRequest(body));
    QCOMPARE(statusOf(first), 200);
    // A new connection from the same address shares the budget.
    const QByteArray second = rawHttp(srv.port(), postRequest(body));
    QCOMPARE(statusOf(second), 429);
    const QJsonObject error = QJsonDocument::fromJson(bodyOf(second)).object().value(QLatin1String("error")).toObject();
    QCOMPARE(error.value(kCode).toString(), QStringLiteral("RATE_LIMITED"));
    const int retryAfter = headerOf(second, "Retry-After").toInt();
    QVERIFY2(retryAfter >= 1 && retryAfter <= 3, headerOf(second, "Retry-After").constData());
    // Nothing of the refused request was stored; reads are not limited.
    const QByteArray run = rawHttp(srv.port(), "GET /api/runs/http-rate HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    QCOMPARE(statusOf(run), 200);
    QCOMPARE(QJsonDocument::fromJson(bodyOf(run)).object().value(QLatin1String("event_count")).toInt(), 50);
    // A WebSocket producer from the same address has its own budget.
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("http-rate"), 50)).size(), 50);
    QTest::qWait(retryAfter * 1000 + 100); // as Retry-After tells (fixed on purpose: that is what is checked)
    QCOMPARE(statusOf(rawHttp(srv.port(), postRequest(body))), 200);
    const QByteArray metrics = rawHttp(srv.port(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    QVERIFY2(metrics.contains("runwatch_publish_limited_total{limit=\"rate\"} 1\n"), bodyOf(metrics).constData());
}

void TestLimits::runLimit()
{
    ServerConfig config;
    config.maxRuns = 3;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    for (const QString &run : {QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")})
        QCOMPARE(publishAcked(*producer, logEvents(run, 2)).size(), 2);
    QJsonObject refused = publishAnswer(*producer, logEvents(QStringLiteral("d"), 1));
    QCOMPARE(refused.value(kCode).toString(), QStringLiteral("TOO_LARGE"));
    QVERIFY2(refused.value(QLatin1String("message")).toString().contains(QLatin1String("--max-runs")), qPrintable(describe(refused)));
    // All or nothing: the event for the known run "a" in the same publish is not stored either.
    QJsonArray mixed = logEvents(QStringLiteral("a"), 1, 0, 10);
    mixed.append(logEvents(QStringLiteral("e"), 1).first());
    refused = publishAnswer(*producer, mixed);
    QCOMPARE(refused.value(kCode).toString(), QStringLiteral("TOO_LARGE"));
    QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("a"), 1, 0, 20)).size(), 1);
    QNetworkAccessManager nam;
    const HttpResult events = httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/a/events")));
    QCOMPARE(events.status, 200);
    QCOMPARE(QJsonDocument::fromJson(events.body).array().size(), 3);
    // Deleting a run makes room.
    QCOMPARE(httpCall(nam, "DELETE", srv.http(QStringLiteral("/api/runs/b"))).status, 200);
    QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("d"), 1)).size(), 1);
    QCOMPARE(httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/e"))).status, 404);
}

void TestLimits::metricNameLimit()
{
    ServerConfig config;
    config.maxMetricsPerRun = 5;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    const QStringList five{QStringLiteral("loss"), QStringLiteral("lr"), QStringLiteral("acc"), QStringLiteral("m4"), QStringLiteral("m5")};
    QCOMPARE(publishAcked(*producer, metricEvents(QStringLiteral("m"), five, 1)).size(), 1);
    // Known names go on being logged, at any rate.
    QCOMPARE(publishAcked(*producer, metricEvents(QStringLiteral("m"), five, 2)).size(), 1);
    const QJsonObject refused = publishAnswer(*producer, metricEvents(QStringLiteral("m"), {QStringLiteral("loss"), QStringLiteral("sixth")}, 3));
    QCOMPARE(refused.value(kCode).toString(), QStringLiteral("TOO_LARGE"));
    QVERIFY2(refused.value(QLatin1String("message")).toString().contains(QLatin1String("--max-metrics-per-run")), qPrintable(describe(refused)));
    // Another run has names of its own.
    QCOMPARE(publishAcked(*producer, metricEvents(QStringLiteral("n"), five, 1)).size(), 1);
    QNetworkAccessManager nam;
    const HttpResult names = httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/m/metrics")));
    QCOMPARE(names.status, 200);
    QVERIFY2(!names.body.contains("sixth"), names.body.constData());
    const HttpResult loss = httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/m/metrics/loss")));
    QCOMPARE(QJsonDocument::fromJson(loss.body).object().value(QLatin1String("points")).toArray().size(), 2);
}

void TestLimits::stringLengthLimit_data()
{
    QTest::addColumn<QString>("where");
    QTest::addColumn<int>("length");
    QTest::addColumn<bool>("accepted");
    QTest::newRow("message at the limit") << QStringLiteral("message") << 1000 << true;
    QTest::newRow("message over the limit") << QStringLiteral("message") << 1001 << false;
    QTest::newRow("escapes count as sent") << QStringLiteral("escaped") << 600 << false;
    QTest::newRow("a long key") << QStringLiteral("key") << 1001 << false;
}

void TestLimits::stringLengthLimit()
{
    QFETCH(QString, where);
    QFETCH(int, length);
    QFETCH(bool, accepted);
    ServerConfig config;
    config.maxStringBytes = 1000;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    QJsonObject data{{QStringLiteral("level"), QStringLiteral("info")}, {QStringLiteral("message"), QStringLiteral("x")}};
    if (where == QLatin1String("message"))
        data.insert(QStringLiteral("message"), QString(length, QLatin1Char('m')));
    else if (where == QLatin1String("escaped")) // each newline is sent as two bytes: 1200
        data.insert(QStringLiteral("message"), QString(length, QLatin1Char('\n')));
    else
        data.insert(QString(length, QLatin1Char('k')), 1);
    const QJsonArray events{Test::event(QStringLiteral("s"), QStringLiteral("log"), data)};
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    const QJsonObject answer = publishAnswer(*producer, events);
    QNetworkAccessManager nam;
    const HttpResult post = httpCall(nam, "POST", srv.http(QStringLiteral("/api/events")), QByteArray(),
                                     QJsonDocument(events).toJson(QJsonDocument::Compact));
    if (accepted) {
        QCOMPARE(answer.value(kType).toString(), QStringLiteral("ack"));
        QCOMPARE(post.status, 200);
    } else {
        QCOMPARE(answer.value(kCode).toString(), QStringLiteral("TOO_LARGE"));
        QVERIFY2(answer.value(QLatin1String("message")).toString().contains(QLatin1String("--max-string-bytes")), qPrintable(describe(answer)));
        QCOMPARE(post.status, 413);
        QCOMPARE(post.errorCode(), QStringLiteral("TOO_LARGE"));
        QVERIFY(producer->isConnected());
        QCOMPARE(httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/s"))).status, 404);
    }
}

// Frames that break the WebSocket protocol: the server closes that one peer with the close code
// RFC 6455 names (after a close frame that says why), and every other client goes on as if
// nothing happened.
void TestLimits::hostileFrames_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("closeCode");
    const QByteArray text = "{\"op\":\"ping\"}";
    QTest::newRow("reserved data opcode 0x3") << rawFrame(0x83, text) << 1002;
    QTest::newRow("reserved control opcode 0xB") << rawFrame(0x8B, QByteArray()) << 1002;
    QTest::newRow("RSV1 without an extension") << rawFrame(0xC1, text) << 1002;
    QTest::newRow("RSV3") << rawFrame(0x91, text) << 1002;
    QTest::newRow("ping longer than 125 bytes") << rawFrame(0x89, QByteArray(200, 'p')) << 1002;
    QTest::newRow("fragmented ping") << rawFrame(0x09, QByteArray("p")) << 1002;
    QTest::newRow("continuation with nothing to continue") << rawFrame(0x80, text) << 1002;
    QTest::newRow("new message inside a fragmented one") << rawFrame(0x01, "{\"op\"") + rawFrame(0x81, text) << 1002;
    QTest::newRow("invalid UTF-8 in a text frame") << rawFrame(0x81, QByteArray("{\"op\":\"\xff\xfe\"}")) << 1007;
    QTest::newRow("overlong UTF-8 encoding") << rawFrame(0x81, QByteArray("\"\xc0\xaf\"")) << 1007;
    QTest::newRow("UTF-16 surrogate in UTF-8") << rawFrame(0x81, QByteArray("\"\xed\xa0\x80\"")) << 1007;
    QTest::newRow("length 2^63 - 1") << rawFrame(0x81, QByteArray(), true, std::numeric_limits<qint64>::max()) << 1009;
    // RFC 6455 section 5.1: a server must fail a connection whose client frames are not masked.
    QTest::newRow("unmasked client frame") << rawFrame(0x81, text, false) << 1002;
    QTest::newRow("unmasked ping") << rawFrame(0x89, QByteArray("p"), false) << 1002;
    QTest::newRow("close with a reason that is not UTF-8") << rawFrame(0x88, QByteArray("\x03\xe8\xff\xfe")) << 1007;
    QTest::newRow("close of one byte") << rawFrame(0x88, QByteArray("\x03")) << 1002;
    QTest::newRow("close code 1005, which is never sent") << rawFrame(0x88, QByteArray("\x03\xed")) << 1002;
}

void TestLimits::hostileFrames()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, closeCode);
    Test::TestServer srv;
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr sub = openProbe(srv.ws(QStringLiteral("/ws/runs/good")));
    QVERIFY(producer->waitConnected() && sub->waitConnected());
    QVERIFY(!sub->waitMessage(QStringLiteral("welcome")).isEmpty());
    QVector<qint64> expected = publishAcked(*producer, logEvents(QStringLiteral("good"), 3));
    QCOMPARE(expected.size(), 3);

    RawWs bad;
    QVERIFY(bad.handshake(srv.port(), QStringLiteral("/ws")));
    bad.socket.write(bytes);
    QVERIFY2(QTest::qWaitFor([&] {
        bad.pump();
        return bad.closeCode() > 0 && bad.isClosed();
    }, 5000), "the server kept a connection that broke the protocol");
    QVERIFY(!bad.protocolError);
    QCOMPARE(bad.closeCode(), closeCode);

    // The good clients did not notice.
    const QVector<qint64> later = publishAcked(*producer, logEvents(QStringLiteral("good"), 3, 0, 3));
    QCOMPARE(later.size(), 3);
    expected += later;
    QVERIFY(sub->waitEvents(int(expected.size())));
    QVERIFY(sync(*sub));
    QCOMPARE(sub->seqs(), expected);
    QVERIFY(producer->isConnected() && sub->isConnected());
    // And nothing of the dropped peer stays behind.
    Endpoint *endpoint = srv.server().endpoint();
    auto clients = [endpoint] {
        qsizetype n = -1;
        QMetaObject::invokeMethod(endpoint, [&] { n = endpoint->clients().size(); }, Qt::BlockingQueuedConnection);
        return n;
    };
    QTRY_COMPARE_WITH_TIMEOUT(clients(), qsizetype(2), 5000);
}

// Replies count against the queue bound like events do: a client that sends ops and never reads
// the answers is cut loose with 4008 instead of growing the server's memory.
void TestLimits::repliesAreBounded_data()
{
    QTest::addColumn<bool>("withToken");
    QTest::addColumn<QByteArray>("op");
    QTest::addColumn<int>("count");
    // Each ping op is answered with a pong that carries its id back: ~64 KiB per answer.
    QTest::newRow("ping ops with large ids") << false
        << QByteArray("{\"op\":\"ping\",\"id\":\"" + QByteArray(64 * 1024, 'i') + "\"}") << 400;
    // Empty messages from a peer that has not authenticated: an error answer each.
    QTest::newRow("empty frames before auth") << true << QByteArray() << 200000;
}

void TestLimits::repliesAreBounded()
{
    QFETCH(bool, withToken);
    QFETCH(QByteArray, op);
    QFETCH(int, count);
    ServerConfig config;
    config.maxQueueBytes = 256 * 1024;
    if (withToken)
        config.token = QStringLiteral("secret");
    Test::TestServer srv(config);
    QVERIFY(srv.start());

    RawWs greedy;
    // A small receive window, and nothing read from it: the answers pile up on the server.
    greedy.socket.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
    QVERIFY2(greedy.handshake(srv.port(), QStringLiteral("/ws")), greedy.response.constData());
    greedy.socket.setReadBufferSize(4096);
    const QByteArray frame = rawFrame(0x81, op);
    QByteArray all;
    for (int i = 0; i < count; ++i)
        all += frame;
    greedy.socket.write(all);
    QVERIFY2(QTest::qWaitFor([&] { return laggingDropped(srv.server()) == 1; }, 30000),
             "a client that never reads its answers must be cut loose");

    // Reading now: what was queued, then the close frame with 4008.
    greedy.socket.setReadBufferSize(0);
    QVERIFY(QTest::qWaitFor([&] { greedy.pump(); return greedy.closeCode() != -1 && greedy.isClosed(); }, 20000));
    QVERIFY(!greedy.protocolError);
    QCOMPARE(greedy.closeCode(), 4008);
    const int answers = greedy.count(0x1);
    QVERIFY2(answers < count, qPrintable(QStringLiteral("%1 answers of %2").arg(answers).arg(count)));

    // The server itself is fine.
    ProbePtr good = openProbe(srv.ws(QStringLiteral("/ws")), withToken ? QByteArray("secret") : QByteArray());
    QVERIFY(good->waitConnected());
    QVERIFY(sync(*good));
}

// Before it authenticates, a peer may send only small messages: a large one is refused at its
// frame header (1009), without the server holding it. After auth the full limit applies.
void TestLimits::preAuthMessageLimit()
{
    ServerConfig config;
    config.token = QStringLiteral("secret");
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    QVERIFY(config.maxMessageBytes > 4 * WsClient::PreAuthMaxMessageBytes);

    RawWs stranger;
    QVERIFY2(stranger.handshake(srv.port(), QStringLiteral("/ws")), stranger.response.constData());
    // Only the header of a 1 MiB message: refused before its payload arrives.
    stranger.socket.write(rawFrame(0x81, QByteArray(), true, 1024 * 1024));
    QVERIFY(QTest::qWaitFor([&] { stranger.pump(); return stranger.closeCode() != -1 && stranger.isClosed(); }, 5000));
    QCOMPARE(stranger.closeCode(), 1009);

    // A message just under the pre-auth limit is read (and answered: it is not an auth op).
    RawWs small;
    QVERIFY(small.handshake(srv.port(), QStringLiteral("/ws")));
    const QByteArray padded = "{\"op\":\"ping\",\"id\":\"" + QByteArray(int(WsClient::PreAuthMaxMessageBytes) - 64, 'x') + "\"}";
    small.sendFrame(0x1, padded);
    QVERIFY(QTest::qWaitFor([&] { small.pump(); return small.count(0x1) >= 2; }, 5000)); // welcome, answer
    QVERIFY(!small.isClosed());

    // Authenticated, the same peer may send a message of 256 KiB.
    RawWs member;
    QVERIFY(member.handshake(srv.port(), QStringLiteral("/ws")));
    member.sendFrame(0x1, "{\"op\":\"auth\",\"token\":\"secret\",\"id\":\"a\"}");
    QVERIFY(QTest::qWaitFor([&] { member.pump(); return member.count(0x1) >= 2; }, 5000)); // welcome, auth_ok
    QVERIFY2(member.messages.last().payload.contains("auth_ok"), member.messages.last().payload.constData());
    const QByteArray large = "{\"op\":\"ping\",\"id\":\"" + QByteArray(256 * 1024, 'y') + "\"}";
    member.sendFrame(0x1, large);
    QVERIFY(QTest::qWaitFor([&] { member.pump(); return member.count(0x1) >= 3; }, 5000));
    QCOMPARE(QJsonDocument::fromJson(member.messages.last().payload).object().value(kType).toString(), QStringLiteral("pong"));
    QVERIFY(!member.isClosed());
}

// A peer that does not authenticate within the handshake time is told so and closed (4401), even
// when it keeps the connection busy with pings.
void TestLimits::authDeadline()
{
    ServerConfig config;
    config.token = QStringLiteral("secret");
    config.handshakeTimeoutMs = 600;
    Test::TestServer srv(config);
    QVERIFY(srv.start());

    RawWs idle;
    RawWs busy;
    RawWs member;
    QVERIFY(idle.handshake(srv.port(), QStringLiteral("/ws")));
    QVERIFY(busy.handshake(srv.port(), QStringLiteral("/ws")));
    QVERIFY(member.handshake(srv.port(), QStringLiteral("/ws")));
    member.sendFrame(0x1, "{\"op\":\"auth\",\"token\":\"secret\"}");
    QElapsedTimer clock;
    clock.start();
    QVERIFY(QTest::qWaitFor([&] {
        idle.pump();
        busy.pump();
        member.pump();
        busy.sendFrame(0x9, "x");
        busy.sendFrame(0x1, "{\"op\":\"ping\"}");
        return idle.isClosed() && busy.isClosed();
    }, 10000));
    for (RawWs *peer : {&idle, &busy}) {
        peer->pump();
        QCOMPARE(peer->closeCode(), 4401);
        bool told = false;
        for (const RawWs::Message &m : std::as_const(peer->messages))
            told = told || (m.opcode == 0x1 && m.payload.contains("AUTH_REQUIRED"));
        QVERIFY2(told, "the peer is told why");
    }
    // Authenticated in time, the third stays well past the deadline (a fixed time on purpose: it
    // proves the deadline does not fire for it).
    while (clock.elapsed() < 3 * config.handshakeTimeoutMs) {
        member.pump();
        QTest::qWait(20);
    }
    QVERIFY(!member.isClosed());
    member.sendFrame(0x1, "{\"op\":\"ping\",\"id\":7}");
    QVERIFY(QTest::qWaitFor([&] { member.pump(); return member.messages.last().payload.contains("pong"); }, 5000));
}

// Only the answer to the server's own ping counts as life: a peer that sends pongs of its own
// accord, and never answers, is dropped like a silent one.
void TestLimits::unsolicitedPongsAreNoSignOfLife()
{
    ServerConfig config;
    config.pingIntervalMs = 200;
    config.keepaliveTimeoutMs = 800;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    RawWs faker;
    QVERIFY(faker.handshake(srv.port(), QStringLiteral("/ws")));
    QElapsedTimer clock;
    clock.start();
    const bool dropped = QTest::qWaitFor(
        [&] {
            faker.pump();
            faker.sendFrame(0xA, "alive");
            return faker.isClosed();
        },
        10000);
    QVERIFY2(dropped, "unsolicited pongs must not keep a connection open");
    QVERIFY(faker.count(0x9) >= 1);
    QVERIFY(clock.elapsed() >= config.keepaliveTimeoutMs - 100);
}

// Guessing tokens costs a connection every few tries.
void TestLimits::failedAuthCloses()
{
    ServerConfig config;
    config.token = QStringLiteral("secret");
    Test::TestServer srv(config);
    QVERIFY(srv.start());

    ProbePtr guesser = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(guesser->waitConnected());
    for (int i = 1; i < WsClient::MaxFailedAuth; ++i) {
        guesser->send({{QStringLiteral("op"), QStringLiteral("auth")}, {QStringLiteral("token"), QStringLiteral("guess%1").arg(i)}, {kId, i}});
        const QJsonObject answer = waitAnswer(*guesser, i);
        QCOMPARE(answer.value(kCode).toString(), QStringLiteral("AUTH_FAILED"));
    }
    QVERIFY(guesser->isConnected());
    guesser->send({{QStringLiteral("op"), QStringLiteral("auth")}, {QStringLiteral("token"), QStringLiteral("last guess")}, {kId, 99}});
    QVERIFY(guesser->waitClosed());
    QCOMPARE(guesser->closeCode(), 4401);

    // A few wrong tries and then the right token is fine.
    ProbePtr typo = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(typo->waitConnected());
    for (int i = 1; i < WsClient::MaxFailedAuth; ++i) {
        typo->send({{QStringLiteral("op"), QStringLiteral("auth")}, {QStringLiteral("token"), QStringLiteral("secrte")}, {kId, i}});
        QCOMPARE(waitAnswer(*typo, i).value(kCode).toString(), QStringLiteral("AUTH_FAILED"));
    }
    typo->send({{QStringLiteral("op"), QStringLiteral("auth")}, {QStringLiteral("token"), QStringLiteral("secret")}, {kId, 50}});
    QCOMPARE(waitAnswer(*typo, 50).value(kType).toString(), QStringLiteral("auth_ok"));
    QVERIFY(typo->isConnected());
}

qint64 serverMetric(quint16 port, const QByteArray &sample)
{
    const QByteArray answer = rawHttp(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    return Test::metricValue(bodyOf(answer), sample);
}

// Pipelined requests whose answers the client does not read wait unread once MaxUnsentBytes are
// queued, and are answered when it reads; a client that never reads is dropped after the write
// timeout.
void TestLimits::httpUnreadAnswersAreBounded()
{
    ServerConfig config;
    config.httpWriteTimeoutMs = 1500;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer->waitConnected());
    QCOMPARE(publishAcked(*producer, logEvents(QStringLiteral("big"), 4, 250 * 1024)).size(), 4);
    const QByteArray one = "GET /api/runs/big/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const int requests = 200;
    const QByteArray single = rawHttp(srv.port(), "GET /api/runs/big/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    QCOMPARE(statusOf(single), 200);
    QVERIFY(single.size() > 1000 * 1000);

    const qint64 before = serverMetric(srv.port(), "runwatch_http_requests_total");
    QTcpSocket reader;
    reader.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
    reader.connectToHost(QHostAddress(QHostAddress::LocalHost), srv.port());
    QVERIFY(reader.waitForConnected(5000));
    reader.setReadBufferSize(4096);
    QByteArray pipelined;
    for (int i = 0; i < requests; ++i)
        pipelined += one;
    reader.write(pipelined);
    QVERIFY(reader.waitForBytesWritten(5000));
    // The answered count settles far below the requests sent. The fixed 200 ms steps are the point:
    // "settled" means it did not move for one step.
    qint64 answered = -1;
    for (int i = 0; i < 20; ++i) {
        QTest::qWait(200);
        const qint64 now = serverMetric(srv.port(), "runwatch_http_requests_total") - before - 1 - i;
        if (now == answered)
            break;
        answered = now;
    }
    qInfo("%lld of %d pipelined 1 MB answers written while the client did not read", answered, requests);
    QVERIFY2(answered >= 1 && answered < requests / 4, qPrintable(QStringLiteral("%1 answered of %2 unread").arg(answered).arg(requests)));
    // Reading now: every answer arrives, complete and in order.
    reader.setReadBufferSize(0);
    // Counted as they come (the bytes themselves are not kept: 200 MB in all).
    QByteArray tail;
    qint64 received = 0;
    int complete = 0;
    QVERIFY2(QTest::qWaitFor([&] {
        const QByteArray chunk = reader.readAll();
        if (!chunk.isEmpty()) {
            received += chunk.size();
            const QByteArray window = tail + chunk;
            complete += int(window.count("HTTP/1.1 200")) - int(tail.count("HTTP/1.1 200"));
            tail = window.right(16);
        }
        return complete == requests && received >= qint64(requests) * (single.size() - 40);
    }, 120000), qPrintable(QStringLiteral("%1 of %2 answers").arg(complete).arg(requests)));

    // A client that never reads is dropped after the write timeout.
    const qint64 open = serverMetric(srv.port(), "runwatch_tcp_connections");
    QTcpSocket mute;
    mute.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
    mute.connectToHost(QHostAddress(QHostAddress::LocalHost), srv.port());
    QVERIFY(mute.waitForConnected(5000));
    mute.setReadBufferSize(4096);
    mute.write(one + one + one + one + one + one + one + one);
    QVERIFY(QTest::qWaitFor([&] { return serverMetric(srv.port(), "runwatch_tcp_connections") == open + 1; }, 5000));
    QVERIFY2(QTest::qWaitFor([&] { return serverMetric(srv.port(), "runwatch_tcp_connections") == open; }, 15000),
             "a connection whose answers are never read must be dropped");
    QVERIFY(producer->isConnected());
}

// The head has its deadline; a body has an idle timeout of its own, so a slow upload that keeps
// sending is not cut by the head's deadline.
void TestLimits::httpSlowBodyIsFine()
{
    ServerConfig config;
    config.handshakeTimeoutMs = 800;
    config.httpBodyTimeoutMs = 800;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    const QByteArray body = QJsonDocument(Test::event(QStringLiteral("slow"), QStringLiteral("log"),
                                                      {{QStringLiteral("message"), QString(1000, QLatin1Char('s'))}}))
                                .toJson(QJsonDocument::Compact);
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), srv.port());
    QVERIFY(socket.waitForConnected(5000));
    socket.write("POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                 + QByteArray::number(body.size()) + "\r\n\r\n");
    // 16 pieces, 250 ms apart: four times the head's deadline in all, never silent for long.
    const int pieces = 16;
    const qsizetype piece = (body.size() + pieces - 1) / pieces;
    for (qsizetype at = 0; at < body.size(); at += piece) {
        QTest::qWait(250); // fixed on purpose: the pacing of the slow body is what is tested
        QVERIFY2(socket.state() == QAbstractSocket::ConnectedState, socket.readAll().constData());
        socket.write(body.mid(at, piece));
        socket.flush();
    }
    QByteArray answer;
    QVERIFY(QTest::qWaitFor([&] { answer += socket.readAll(); return socket.state() == QAbstractSocket::UnconnectedState; }, 10000));
    answer += socket.readAll();
    QVERIFY2(statusOf(answer) == 200, answer.left(300).constData());

    // A body that stops arriving gets 408 after the body timeout.
    QTcpSocket stalled;
    stalled.connectToHost(QHostAddress(QHostAddress::LocalHost), srv.port());
    QVERIFY(stalled.waitForConnected(5000));
    stalled.write("POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"run\":");
    QByteArray refused;
    QVERIFY(QTest::qWaitFor([&] { refused += stalled.readAll(); return stalled.state() == QAbstractSocket::UnconnectedState; }, 10000));
    refused += stalled.readAll();
    QVERIFY2(statusOf(refused) == 408, refused.left(300).constData());
}

// Wrong tokens over HTTP: a few on one keep-alive connection, then it is closed.
void TestLimits::httpFailedAuthCloses()
{
    ServerConfig config;
    config.token = QStringLiteral("secret");
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), srv.port());
    QVERIFY(socket.waitForConnected(5000));
    QByteArray received;
    for (int i = 1; i <= HttpConnection::MaxFailedAuth; ++i) {
        socket.write("GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer guess" + QByteArray::number(i) + "\r\n\r\n");
        QVERIFY(QTest::qWaitFor([&] { received += socket.readAll(); return received.count("HTTP/1.1 401") == i; }, 5000));
        if (i < HttpConnection::MaxFailedAuth)
            QVERIFY2(socket.state() == QAbstractSocket::ConnectedState, "closed too early");
    }
    QVERIFY2(QTest::qWaitFor([&] { received += socket.readAll(); return socket.state() == QAbstractSocket::UnconnectedState; }, 5000),
             "the connection must be closed after repeated wrong tokens");
    QVERIFY(received.toLower().contains("connection: close"));
    // The right token on a new connection works.
    const QByteArray ok = rawHttp(srv.port(), "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer secret\r\nConnection: close\r\n\r\n");
    QCOMPARE(statusOf(ok), 200);
}

QTEST_MAIN(TestLimits)
#include "tst_limits.moc"
