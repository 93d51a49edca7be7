#pragma once

#include <QElapsedTimer>
#include <QJsonArray>
#include <QObject>
#include <QRandomGenerator>
#include <QTimer>
#include <QUrl>

#include <deque>
#include <memory>
#include <vector>

class QNetworkAccessManager;
class QWebSocket;

namespace Runwatch {

class DemoScenario;

// Simulated producers for `--demo`: a client like any other, speaking the wire protocol over a
// WebSocket to the server, so a first launch has something alive to watch. Runs are replaced by
// fresh ones when they end, so the demo keeps going; it keeps at most MaxRuns of its own runs,
// deleting the oldest finished ones (DELETE /api/runs/{run}) before it starts more, so that a demo
// left on for hours does not bury the window in runs.
class DemoProducer : public QObject
{
    Q_OBJECT
public:
    // `speed`: scenario ticks per timer tick (1 is real time; tests run the demo faster).
    DemoProducer(const QUrl &serverUrl, const QString &token, int speed = 1, QObject *parent = nullptr);
    ~DemoProducer() override;

    void start();
    qint64 eventsSent() const { return m_sent; }

    static constexpr int MaxRuns = 12;

private:
    void connectSocket();
    void tick();
    void startGeneration();
    // Deletes the oldest runs of earlier generations so that `room` more fit under MaxRuns.
    void makeRoom(int room);

    QUrl m_url;
    QString m_token;
    QWebSocket *m_socket = nullptr;
    QNetworkAccessManager *m_network = nullptr;
    QTimer m_timer;
    QTimer m_reconnect;
    QElapsedTimer m_clock;
    QRandomGenerator m_random;
    std::vector<std::unique_ptr<DemoScenario>> m_scenarios;
    qint64 m_sent = 0;
    int m_generation = 0;
    int m_speed = 1;
    std::deque<QString> m_runs; // this demo's runs still held by the server, oldest first
    int m_deleting = 0;          // DELETE requests not answered yet
};

} // namespace Runwatch
