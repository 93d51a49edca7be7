#include "httpconnection.h"

#include <QTcpSocket>
#include <QTimer>

namespace Runwatch {

HttpConnection::HttpConnection(QTcpSocket *socket, const ServerConfig &config, HttpHandler *handler, QObject *parent)
    : QObject(parent)
    , m_socket(socket)
    , m_config(config)
    , m_handler(handler)
    , m_timer(new QTimer(this))
    , m_writeTimer(new QTimer(this))
{
    socket->setParent(this);
    m_peer = socket->peerAddress().toString();
    m_timer->setSingleShot(true);
    connect(m_timer, &QTimer::timeout, this, [this] {
        if (m_state == State::Lingering) {
            m_state = State::Head; // let close() run
            close();
            return;
        }
        if (m_idle && m_state == State::Head && m_socket && m_socket->bytesAvailable() == 0)
            close(); // idle keep-alive connection
        else
            fail(408, QStringLiteral("INVALID_REQUEST"), QStringLiteral("request not received in time"));
    });
    m_timer->start(m_config.handshakeTimeoutMs);
    m_writeTimer->setSingleShot(true);
    connect(m_writeTimer, &QTimer::timeout, this, [this] {
        // The client stopped reading its answers: nothing more can be said to it.
        if (m_socket) {
            m_state = State::Closing;
            m_timer->stop();
            m_socket->abort();
            m_handler->connectionClosed(this);
        }
    });
    connect(socket, &QTcpSocket::readyRead, this, &HttpConnection::process);
    connect(socket, &QTcpSocket::bytesWritten, this, &HttpConnection::written);
    connect(socket, &QTcpSocket::disconnected, this, [this] { m_handler->connectionClosed(this); });
    if (socket->bytesAvailable())
        QMetaObject::invokeMethod(this, &HttpConnection::process, Qt::QueuedConnection);
}

HttpConnection::~HttpConnection() = default;

void HttpConnection::restartHeadTimer()
{
    m_timer->start(m_config.handshakeTimeoutMs);
}

void HttpConnection::watchWrites()
{
    if (m_socket && m_socket->bytesToWrite() > 0) {
        if (!m_writeTimer->isActive())
            m_writeTimer->start(m_config.httpWriteTimeoutMs);
    } else {
        m_writeTimer->stop();
    }
}

void HttpConnection::written()
{
    // Progress: the write deadline starts again.
    m_writeTimer->stop();
    watchWrites();
    if (m_held && m_socket && m_socket->bytesToWrite() <= MaxUnsentBytes / 2) {
        m_held = false;
        m_timer->start(m_config.httpIdleTimeoutMs);
        QMetaObject::invokeMethod(this, &HttpConnection::process, Qt::QueuedConnection);
    }
}

void HttpConnection::close()
{
    if (m_state == State::Closing)
        return;
    m_state = State::Closing;
    m_timer->stop();
    if (m_socket) {
        m_socket->disconnectFromHost();
        if (m_socket->state() == QAbstractSocket::UnconnectedState)
            m_handler->connectionClosed(this);
    }
}

void HttpConnection::fail(int status, const QString &code, const QString &message)
{
    if (!m_socket || m_state == State::Closing || m_state == State::Lingering)
        return;
    m_socket->write(Http::serialize(HttpResponse::error(status, code, message), false, false));
    watchWrites();
    // Lingering close: the client may still be sending a body we refused. Closing now with unread
    // bytes makes the kernel reset the connection, and the client would lose the answer. Read and
    // drop what comes for a short while (bounded in time and bytes), then close.
    m_state = State::Lingering;
    m_lingerBytes = 0;
    m_socket->readAll();
    m_timer->start(LingerMs);
}

void HttpConnection::process()
{
    if (m_state == State::Lingering) {
        if (m_socket) {
            m_lingerBytes += m_socket->readAll().size();
            if (m_lingerBytes > LingerMaxBytes) {
                m_state = State::Head;
                close();
            }
        }
        return;
    }
    if (m_held)
        return;
    while (m_socket && m_state != State::Closing) {
        if (m_state == State::Head) {
            const qint64 available = m_socket->bytesAvailable();
            if (available == 0)
                return;
            if (m_socket->bytesToWrite() > MaxUnsentBytes) {
                // Pipelined requests whose answers are not read wait, unread (the socket's read
                // buffer is bounded, so the client's sending stalls too), until the client reads.
                m_held = true;
                m_timer->stop();
                return;
            }
            if (m_idle) {
                m_idle = false;
                restartHeadTimer();
            }
            const int max = m_config.maxHeaderBytes;
            // Peek: the head is taken from the socket once it is complete.
            const QByteArray head = m_socket->peek(qMin<qint64>(available, max + 4));
            m_request = HttpRequest();
            const Http::HeadResult result = Http::parseHead(head, max, &m_request);
            if (result.status == Http::ParseStatus::Incomplete)
                return;
            if (result.status == Http::ParseStatus::Bad) {
                fail(result.httpStatus, QStringLiteral("INVALID_REQUEST"), result.message);
                return;
            }
            if (m_request.isWebSocketUpgrade()) {
                m_timer->stop();
                m_socket->skip(result.headLength); // what follows are the client's frames
                QTcpSocket *socket = m_socket;
                disconnect(socket, nullptr, this, nullptr);
                m_socket = nullptr;
                m_state = State::Closing;
                m_handler->upgrade(this, socket, m_request);
                return;
            }
            m_socket->skip(result.headLength);
            const Http::BodyFraming framing = Http::bodyFraming(m_request, m_config.maxMessageBytes);
            if (!framing.ok) {
                fail(framing.httpStatus,
                     framing.httpStatus == 413 ? QStringLiteral("TOO_LARGE") : QStringLiteral("INVALID_REQUEST"),
                     framing.message);
                return;
            }
            m_buffer.clear();
            m_timer->start(m_config.httpBodyTimeoutMs);
            if (framing.chunked) {
                m_chunked = std::make_unique<Http::ChunkedDecoder>(m_config.maxMessageBytes);
                m_state = State::Chunked;
            } else {
                m_bodyLength = framing.length;
                m_state = State::Body;
            }
        }
        if (m_state == State::Body) {
            if (m_buffer.size() < m_bodyLength) {
                const qsizetype before = m_buffer.size();
                m_buffer.append(m_socket->read(m_bodyLength - m_buffer.size()));
                if (m_buffer.size() < m_bodyLength) {
                    if (m_buffer.size() > before)
                        m_timer->start(m_config.httpBodyTimeoutMs); // the body's idle time
                    return;
                }
            }
            m_request.body = std::move(m_buffer);
            m_buffer = QByteArray();
            finishRequest();
        } else if (m_state == State::Chunked) {
            const QByteArray more = m_socket->readAll();
            m_buffer.append(more);
            const Http::ParseStatus status = m_chunked->feed(m_buffer);
            if (status == Http::ParseStatus::Incomplete) {
                if (!more.isEmpty())
                    m_timer->start(m_config.httpBodyTimeoutMs);
                return;
            }
            if (status == Http::ParseStatus::Bad) {
                fail(m_chunked->httpStatus(),
                     m_chunked->httpStatus() == 413 ? QStringLiteral("TOO_LARGE") : QStringLiteral("INVALID_REQUEST"),
                     m_chunked->message());
                return;
            }
            m_request.body = m_chunked->takeBody();
            m_chunked.reset();
            // Bytes after the chunked body start the next pipelined request: they were read already.
            if (!m_buffer.isEmpty()) {
                fail(400, QStringLiteral("INVALID_REQUEST"), QStringLiteral("pipelining after a chunked body is not supported"));
                return;
            }
            finishRequest();
        }
    }
}

void HttpConnection::finishRequest()
{
    bool keepAlive = m_request.keepAlive();
    const bool head = m_request.method == "HEAD";
    const HttpResponse response = m_handler->handleRequest(m_request, m_peer);
    if (!m_socket)
        return;
    // Guessing tokens costs a connection every few tries, as on WebSocket.
    if (response.status == 401 && ++m_failedAuth >= MaxFailedAuth)
        keepAlive = false;
    m_socket->write(Http::serialize(response, keepAlive, head));
    watchWrites();
    m_request = HttpRequest();
    if (!keepAlive) {
        close();
        return;
    }
    m_state = State::Head;
    m_idle = true;
    m_timer->start(m_config.httpIdleTimeoutMs);
}

} // namespace Runwatch
