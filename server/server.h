#pragma once

#include "config.h"

#include <QObject>
#include <QString>

class QThread;

namespace Runwatch {

class Endpoint;
class Hub;

// Runs the Hub and the Endpoint on a thread of their own, headless or beside a window: the same
// object graph either way. start() and stop() are called from the owner's thread.
class Server : public QObject
{
    Q_OBJECT
public:
    explicit Server(const ServerConfig &config, QObject *parent = nullptr);
    ~Server() override;

    // Prepares the data dir, creates the objects on the server thread and listens. Blocks until
    // the port accepts connections or fails with a one-line reason in *error.
    bool start(QString *error);
    // Closes every client with 1001, stops listening and ends the thread.
    void stop();

    bool isRunning() const { return m_endpoint != nullptr; }
    quint16 port() const { return m_port; }
    QString url() const;
    const ServerConfig &config() const { return m_config; }

    // Live on the server thread: connect with queued connections, call through invokeMethod.
    Hub *hub() const { return m_hub; }
    Endpoint *endpoint() const { return m_endpoint; }

    // A feed of batched events for an in-process viewer, created on the server thread and owned
    // by the server (deleted by stop()). Connect to it with queued connections.
    class ViewerFeed *createViewerFeed();

    // Checks that a data dir exists or can be made, and can be written to.
    static bool prepareDataDir(const QString &dir, QString *error);

private:
    ServerConfig m_config;
    QThread *m_thread = nullptr;
    QObject *m_context = nullptr;
    Hub *m_hub = nullptr;
    Endpoint *m_endpoint = nullptr;
    quint16 m_port = 0;
    QString m_host;
    QString m_scheme = QStringLiteral("http");
};

} // namespace Runwatch
