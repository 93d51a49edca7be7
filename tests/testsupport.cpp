#include "testsupport.h"

#include <QJsonDocument>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

namespace Runwatch::Test {

TestServer::TestServer(ServerConfig config)
    : m_config(std::move(config))
{
    m_config.bind = QHostAddress(QHostAddress::LocalHost);
    m_config.port = 0;
}

TestServer::~TestServer()
{
    stop();
}

bool TestServer::start()
{
    m_dir = std::make_unique<QTemporaryDir>();
    if (m_config.dataDir.isEmpty())
        m_config.dataDir = m_dir->path();
    m_server = std::make_unique<Server>(m_config);
    QString error;
    if (!m_server->start(&error)) {
        qWarning("server did not start: %s", qPrintable(error));
        return false;
    }
    return true;
}

void TestServer::stop()
{
    if (m_server)
        m_server->stop();
}

QUrl TestServer::http(const QString &pathAndQuery) const
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port()).arg(pathAndQuery));
}

QUrl TestServer::ws(const QString &pathAndQuery) const
{
    return QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(port()).arg(pathAndQuery));
}

WsProbe::WsProbe(QObject *parent)
    : QObject(parent)
    , m_socket(new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this))
{
    m_socket->setMaxAllowedIncomingFrameSize(quint64(1) << 30);
    m_socket->setMaxAllowedIncomingMessageSize(quint64(1) << 30);
    connect(m_socket, &QWebSocket::textMessageReceived, this, &WsProbe::onText);
    connect(m_socket, &QWebSocket::disconnected, this, [this] {
        m_closed = true;
        m_closeCode = int(m_socket->closeCode());
        m_closeReason = m_socket->closeReason();
    });
}

WsProbe::~WsProbe() = default;

void WsProbe::open(const QUrl &url, const QByteArray &bearer)
{
    QNetworkRequest request(url);
    if (!bearer.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + bearer);
    m_socket->open(request);
}

bool WsProbe::waitConnected(int timeoutMs)
{
    (void)QTest::qWaitFor([this] { return m_socket->state() == QAbstractSocket::ConnectedState || m_closed; }, timeoutMs);
    return m_socket->state() == QAbstractSocket::ConnectedState;
}

bool WsProbe::waitClosed(int timeoutMs)
{
    (void)QTest::qWaitFor([this] { return m_closed; }, timeoutMs);
    return m_closed;
}

bool WsProbe::isConnected() const
{
    return m_socket->state() == QAbstractSocket::ConnectedState;
}

void WsProbe::send(const QJsonObject &object)
{
    m_socket->sendTextMessage(QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact)));
}

void WsProbe::sendText(const QString &text)
{
    m_socket->sendTextMessage(text);
}

void WsProbe::onText(const QString &text)
{
    ++m_frames;
    const QJsonObject object = QJsonDocument::fromJson(text.toUtf8()).object();
    if (object.value(QLatin1String("type")).toString() == QLatin1String("batch")) {
        for (const QJsonValue &e : object.value(QLatin1String("events")).toArray())
            m_events.append(e.toObject());
    } else if (object.contains(QLatin1String("seq")) && !object.value(QLatin1String("seq")).isArray()) {
        m_events.append(object);
    } else {
        m_messages.append(object);
    }
}

QVector<qint64> WsProbe::seqs() const
{
    QVector<qint64> out;
    for (const QJsonObject &e : m_events)
        out.append(qint64(e.value(QLatin1String("seq")).toDouble()));
    return out;
}

QJsonObject WsProbe::waitMessage(const QString &type, int timeoutMs)
{
    QJsonObject found;
    (void)QTest::qWaitFor(
        [&] {
            for (const QJsonObject &m : std::as_const(m_messages)) {
                if (m.value(QLatin1String("type")).toString() == type) {
                    found = m;
                    return true;
                }
            }
            return false;
        },
        timeoutMs);
    return found;
}

bool WsProbe::waitEvents(int count, int timeoutMs)
{
    return QTest::qWaitFor([&] { return m_events.size() >= count; }, timeoutMs);
}

void WsProbe::clear()
{
    m_events.clear();
    m_messages.clear();
    m_frames = 0;
}

QJsonObject event(const QString &run, const QString &type, const QJsonObject &data, const QString &step)
{
    QJsonObject e{{QStringLiteral("run"), run}, {QStringLiteral("type"), type}, {QStringLiteral("data"), data}};
    if (!step.isEmpty())
        e.insert(QStringLiteral("step"), step);
    return e;
}

QJsonObject publishOp(const QJsonArray &events, const QJsonValue &id)
{
    QJsonObject op{{QStringLiteral("op"), QStringLiteral("publish")}, {QStringLiteral("events"), events}};
    if (!id.isUndefined())
        op.insert(QStringLiteral("id"), id);
    return op;
}

std::unique_ptr<WsProbe> openProbe(const QUrl &url, const QByteArray &bearer)
{
    auto probe = std::make_unique<WsProbe>();
    probe->open(url, bearer);
    return probe;
}

QVector<QJsonObject> ofType(const WsProbe &probe, const QString &type)
{
    QVector<QJsonObject> out;
    for (const QJsonObject &m : probe.messages()) {
        if (m.value(QLatin1String("type")).toString() == type)
            out.append(m);
    }
    return out;
}

QJsonObject answerTo(const WsProbe &probe, const QJsonValue &id)
{
    for (const QJsonObject &m : probe.messages()) {
        if (m.contains(QLatin1String("id")) && m.value(QLatin1String("id")) == id)
            return m;
    }
    return QJsonObject();
}

QJsonObject waitAnswer(WsProbe &probe, const QJsonValue &id, int timeoutMs)
{
    QJsonObject found;
    (void)QTest::qWaitFor(
        [&] {
            found = answerTo(probe, id);
            return !found.isEmpty();
        },
        timeoutMs);
    return found;
}

QString nextId()
{
    static int counter = 0;
    return QStringLiteral("req-%1").arg(++counter);
}

bool sync(WsProbe &probe)
{
    const QString id = nextId();
    probe.send(QJsonObject{{QStringLiteral("op"), QStringLiteral("ping")}, {QStringLiteral("id"), id}});
    return waitAnswer(probe, id).value(QLatin1String("type")).toString() == QLatin1String("pong");
}

qint64 metricValue(const QByteArray &metrics, const QByteArray &sample)
{
    const QByteArray prefix = sample + ' ';
    for (const QByteArray &line : metrics.split('\n')) {
        if (line.startsWith(prefix))
            return line.mid(prefix.size()).trimmed().toLongLong();
    }
    return -1;
}

QVector<qint64> seqList(const QJsonArray &array)
{
    QVector<qint64> out;
    for (const QJsonValue &v : array)
        out.append(qint64(v.toDouble()));
    return out;
}

QVector<qint64> publishAcked(WsProbe &producer, const QJsonArray &events, int timeoutMs)
{
    const QString id = nextId();
    producer.send(publishOp(events, id));
    const QJsonObject answer = waitAnswer(producer, id, timeoutMs);
    if (answer.value(QLatin1String("type")).toString() != QLatin1String("ack")) {
        qWarning("publish %s was not acked: %s", qPrintable(id), QJsonDocument(answer).toJson(QJsonDocument::Compact).constData());
        return {};
    }
    return seqList(answer.value(QLatin1String("seq")).toArray());
}

QJsonObject HttpResult::object() const
{
    return QJsonDocument::fromJson(body).object();
}

QJsonArray HttpResult::array() const
{
    return QJsonDocument::fromJson(body).array();
}

bool HttpResult::isJsonObject() const
{
    return QJsonDocument::fromJson(body).isObject();
}

bool HttpResult::isJsonArray() const
{
    return QJsonDocument::fromJson(body).isArray();
}

QString HttpResult::errorCode() const
{
    return object().value(QLatin1String("error")).toObject().value(QLatin1String("code")).toString();
}

QString HttpResult::errorMessage() const
{
    return object().value(QLatin1String("error")).toObject().value(QLatin1String("message")).toString();
}

HttpResult httpCall(QNetworkAccessManager &nam, const QByteArray &verb, const QUrl &url, const QByteArray &bearer,
                    const QByteArray &body, const HttpHeaders &headers)
{
    QNetworkRequest request(url);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
    if (!bearer.isEmpty())
        request.setRawHeader("Authorization", QByteArray("Bearer ") + bearer);
    const bool withBody = verb != "GET" && verb != "HEAD" && verb != "DELETE";
    if (withBody)
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    for (const auto &header : headers)
        request.setRawHeader(header.first, header.second);
    QNetworkReply *reply = nullptr;
    if (withBody)
        reply = nam.sendCustomRequest(request, verb, body);
    else if (verb == "HEAD")
        reply = nam.head(request); // a custom HEAD would wait for the body its Content-Length announces
    else if (verb == "DELETE")
        reply = nam.deleteResource(request);
    else
        reply = nam.get(request);
    QSignalSpy finished(reply, &QNetworkReply::finished);
    if (!reply->isFinished())
        (void)finished.wait(10000);
    HttpResult result;
    result.finished = reply->isFinished();
    if (!result.finished)
        reply->abort();
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    for (const QNetworkReply::RawHeaderPair &pair : reply->rawHeaderPairs())
        result.headers.insert(pair.first.toLower(), pair.second);
    if (result.status == 0)
        qWarning("%s %s: no HTTP status: error %d, %s", verb.constData(), qPrintable(url.toString()), int(reply->error()),
                 qPrintable(reply->errorString()));
    reply->deleteLater();
    return result;
}

} // namespace Runwatch::Test
