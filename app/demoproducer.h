#pragma once

#include <QElapsedTimer>
#include <QJsonArray>
#include <QObject>
#include <QRandomGenerator>
#include <QTimer>
#include <QUrl>

#include <memory>
#include <vector>

class QWebSocket;

namespace Runwatch {

class DemoScenario;

// Simulated producers for `--demo`: a client like any other, speaking the wire protocol over a
// WebSocket to the server, so a first launch has something alive to watch. Runs are replaced by
// fresh ones when they end, so the demo keeps going.
class DemoProducer : public QObject
{
    Q_OBJECT
public:
    DemoProducer(const QUrl &serverUrl, const QString &token, QObject *parent = nullptr);
    ~DemoProducer() override;

    void start();
    qint64 eventsSent() const { return m_sent; }

private:
    void connectSocket();
    void tick();

    QUrl m_url;
    QString m_token;
    QWebSocket *m_socket = nullptr;
    QTimer m_timer;
    QTimer m_reconnect;
    QElapsedTimer m_clock;
    QRandomGenerator m_random;
    std::vector<std::unique_ptr<DemoScenario>> m_scenarios;
    qint64 m_sent = 0;
    int m_generation = 0;
};

} // namespace Runwatch
