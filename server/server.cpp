#include "server.h"

#include "endpoint.h"
#include "filefollower.h"
#include "hub.h"
#include "memorystore.h"
#include "sqlitestore.h"
#include "viewerfeed.h"

#include <QCryptographicHash>
#include <QDebug>
#include <QDateTime>
#include <QDir>
#include <QTimer>
#include <QFileInfo>
#include <QSemaphore>
#include <QTemporaryFile>
#include <QThread>

#include <memory>

namespace Runwatch {

Server::Server(const ServerConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
{
}

Server::~Server()
{
    stop();
}

bool Server::prepareDataDir(const QString &dir, QString *error)
{
    if (dir.isEmpty()) {
        *error = QStringLiteral("no data dir given");
        return false;
    }
    const QFileInfo info(dir);
    if (info.exists() && !info.isDir()) {
        *error = QStringLiteral("data dir %1 is not a directory").arg(dir);
        return false;
    }
    if (!QDir().mkpath(dir)) {
        *error = QStringLiteral("cannot create data dir %1").arg(dir);
        return false;
    }
    QTemporaryFile probe(QDir(dir).filePath(QStringLiteral(".write-test-XXXXXX")));
    if (!probe.open()) {
        *error = QStringLiteral("data dir %1 is not writable: %2").arg(dir, probe.errorString());
        return false;
    }
    return true;
}

bool Server::start(QString *error)
{
    if (m_endpoint)
        return true;
    if (!m_config.dataDir.isEmpty() && !prepareDataDir(m_config.dataDir, error))
        return false;

    m_thread = new QThread(this);
    m_thread->setObjectName(QStringLiteral("runwatch-server"));
    m_thread->start();
    m_context = new QObject;
    m_context->moveToThread(m_thread);

    bool ok = false;
    QString failure;
    QMetaObject::invokeMethod(
        m_context,
        [&] {
            // With a data dir every event is kept on disk; without one (library use), in memory.
            std::unique_ptr<EventStore> store;
            if (m_config.dataDir.isEmpty()) {
                store = std::make_unique<MemoryStore>(m_config.memoryHistoryBytes);
            } else {
                store = SqliteStore::open(m_config.dataDir,
                                          m_config.syncFull ? SqliteStore::Sync::Full : SqliteStore::Sync::Normal, &failure);
                if (!store)
                    return;
            }
            auto *hub = new Hub(m_config, std::move(store), m_context);
            auto *endpoint = new Endpoint(m_config, hub, m_context);
            if (!endpoint->listen(&failure)) {
                delete endpoint;
                delete hub;
                return;
            }
            for (const QString &path : std::as_const(m_config.followFiles)) {
                // The state file remembers how far each followed file was read.
                const QString key = QString::fromLatin1(
                    QCryptographicHash::hash(QFileInfo(path).absoluteFilePath().toUtf8(), QCryptographicHash::Sha1).toHex().left(16));
                const QString state = m_config.dataDir.isEmpty()
                    ? QString()
                    : QDir(m_config.dataDir).filePath(QStringLiteral("follow-%1.json").arg(key));
                auto *follower = new FileFollower(hub, path, state, m_context);
                connect(follower, &FileFollower::problem, follower,
                        [](const QString &message) { qWarning().noquote() << "runwatch:" << message; });
                follower->start();
            }
            if (m_config.retainDays > 0 || m_config.maxHistoryBytes > 0) {
                // Retention runs at start and then every ten minutes, on the server thread.
                auto *retention = new QTimer(m_context);
                retention->setInterval(10 * 60 * 1000);
                auto apply = [hub] {
                    const QStringList removed = hub->applyRetention(QDateTime::currentMSecsSinceEpoch());
                    if (!removed.isEmpty())
                        qInfo().noquote() << "runwatch: retention deleted" << removed.size() << "finished run(s):"
                                          << removed.join(QStringLiteral(", "));
                };
                connect(retention, &QTimer::timeout, hub, apply);
                retention->start();
                apply();
            }
            m_hub = hub;
            m_endpoint = endpoint;
            m_port = endpoint->port();
            m_host = endpoint->host();
            m_scheme = endpoint->scheme();
            ok = true;
        },
        Qt::BlockingQueuedConnection);
    if (!ok) {
        *error = failure;
        stop();
        return false;
    }
    return true;
}

ViewerFeed *Server::createViewerFeed()
{
    if (!m_context)
        return nullptr;
    ViewerFeed *feed = nullptr;
    // stop() deletes the endpoint just before the feed, in one pass on the server thread: the feed
    // never asks a deleted endpoint.
    Endpoint *endpoint = m_endpoint;
    auto clientCount = [endpoint] { return endpoint ? int(endpoint->clients().size()) : 0; };
    QMetaObject::invokeMethod(
        m_context, [&] { feed = new ViewerFeed(m_hub, clientCount, m_context); }, Qt::BlockingQueuedConnection);
    return feed;
}

QString Server::url() const
{
    return QStringLiteral("%1://%2:%3").arg(m_scheme, m_host).arg(m_port);
}

void Server::stop()
{
    if (!m_thread)
        return;
    if (m_endpoint) {
        // Shared, so that a late shutdownDone after the wait gave up releases a live semaphore.
        auto done = std::make_shared<QSemaphore>();
        Endpoint *endpoint = m_endpoint;
        QMetaObject::Connection connection =
            connect(endpoint, &Endpoint::shutdownDone, endpoint, [done] { done->release(); }, Qt::DirectConnection);
        QMetaObject::invokeMethod(endpoint, &Endpoint::shutdown, Qt::QueuedConnection);
        done->tryAcquire(1, 5000);
        disconnect(connection);
    }
    QObject *context = m_context;
    QMetaObject::invokeMethod(
        context,
        [this, context] {
            delete m_endpoint;
            if (m_hub)
                m_hub->saveSnapshot(); // a clean stop: the next start skips the replay
            delete m_hub;
            delete context;
        },
        Qt::BlockingQueuedConnection);
    m_endpoint = nullptr;
    m_hub = nullptr;
    m_context = nullptr;
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
}

} // namespace Runwatch
