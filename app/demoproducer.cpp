#include "demoproducer.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrlQuery>
#include <QSslError>
#include <QWebSocket>

#include <cmath>

namespace Runwatch {

namespace {

constexpr double Pi = 3.14159265358979323846;

QJsonObject makeEvent(const QString &run, const QString &type, const QJsonObject &data,
                      const QString &step = QString())
{
    QJsonObject event{{QStringLiteral("run"), run}, {QStringLiteral("type"), type}, {QStringLiteral("data"), data}};
    if (!step.isEmpty())
        event.insert(QStringLiteral("step"), step);
    return event;
}

QJsonValue number(double value)
{
    if (std::isnan(value))
        return QStringLiteral("NaN");
    if (std::isinf(value))
        return value > 0 ? QStringLiteral("Infinity") : QStringLiteral("-Infinity");
    return value;
}

double gaussian(QRandomGenerator &random)
{
    // Box-Muller: good enough noise for a demo curve.
    const double u1 = qMax(1e-12, random.generateDouble());
    const double u2 = random.generateDouble();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * Pi * u2);
}

} // namespace

// One simulated job. advance() appends the events of one tick; false once the job has ended.
class DemoScenario
{
public:
    explicit DemoScenario(QString run) : m_run(std::move(run)) {}
    virtual ~DemoScenario() = default;
    virtual bool advance(QJsonArray &out, QRandomGenerator &random) = 0;
    const QString &run() const { return m_run; }

protected:
    void emitEvent(QJsonArray &out, const QString &type, const QJsonObject &data, const QString &step = QString())
    {
        out.append(makeEvent(m_run, type, data, step));
    }
    QString m_run;
    int m_tick = 0;
};

namespace {

// A training run: epochs of steps, a falling loss with noise, eval_loss per epoch, a cosine
// learning rate, throughput and GPU memory. With `diverge`, the loss blows up and turns NaN.
class TrainingScenario : public DemoScenario
{
public:
    TrainingScenario(const QString &run, const QString &name, bool diverge, double lr)
        : DemoScenario(run), m_name(name), m_diverge(diverge), m_lr(lr)
    {
    }

    bool advance(QJsonArray &out, QRandomGenerator &random) override
    {
        if (m_tick++ == 0) {
            emitEvent(out, QStringLiteral("run_started"),
                      {{QStringLiteral("name"), m_name},
                       {QStringLiteral("kind"), QStringLiteral("training")},
                       {QStringLiteral("total_steps"), TotalSteps},
                       {QStringLiteral("total_epochs"), Epochs},
                       {QStringLiteral("tags"), QJsonArray{QStringLiteral("demo"), QStringLiteral("resnet")}},
                       {QStringLiteral("config"),
                        QJsonObject{{QStringLiteral("model"), QStringLiteral("resnet50")},
                                    {QStringLiteral("optimizer"), QJsonObject{{QStringLiteral("name"), QStringLiteral("adamw")},
                                                                              {QStringLiteral("lr"), m_lr},
                                                                              {QStringLiteral("weight_decay"), 0.05}}},
                                    {QStringLiteral("batch_size"), 256},
                                    {QStringLiteral("dataset"), QStringLiteral("imagenet-1k")}}}});
            emitEvent(out, QStringLiteral("log"), {{QStringLiteral("level"), QStringLiteral("info")},
                                                   {QStringLiteral("message"), QStringLiteral("loaded 1281167 training images")}});
            return true;
        }
        for (int i = 0; i < StepsPerTick && m_step < TotalSteps; ++i) {
            ++m_step;
            const double t = double(m_step) / TotalSteps;
            const double lr = m_lr * 0.5 * (1.0 + std::cos(Pi * t));
            double loss = 2.3 * std::exp(-m_step / 260.0) + 0.35 + 0.04 * gaussian(random);
            if (m_diverge && m_step > 240)
                loss = 0.9 * std::exp((m_step - 240) / 18.0) + 0.05 * gaussian(random);
            if (m_diverge && m_step >= 330)
                loss = std::nan("");
            m_lastLoss = loss;
            emitEvent(out, QStringLiteral("metric"),
                      {{QStringLiteral("step"), m_step},
                       {QStringLiteral("loss"), number(loss)},
                       {QStringLiteral("lr"), lr},
                       {QStringLiteral("samples_per_second"), 1180.0 + 40.0 * gaussian(random)},
                       {QStringLiteral("system/gpu_memory_gb"), 17.2 + 0.3 * random.generateDouble()},
                       {QStringLiteral("system/gpu_utilization"), qBound(0.0, 0.93 + 0.04 * gaussian(random), 1.0)}});
            if (m_step % StepsPerEpoch == 0) {
                const int epoch = m_step / StepsPerEpoch;
                emitEvent(out, QStringLiteral("metric"),
                          {{QStringLiteral("step"), m_step},
                           {QStringLiteral("eval_loss"), number(m_diverge && m_step > 240 ? loss * 1.1 : 2.3 * std::exp(-m_step / 300.0) + 0.45 + 0.02 * gaussian(random))},
                           {QStringLiteral("eval_accuracy"), qBound(0.0, 0.2 + 0.55 * (1 - std::exp(-m_step / 300.0)), 1.0)}});
                emitEvent(out, QStringLiteral("log"), {{QStringLiteral("level"), QStringLiteral("info")},
                                                       {QStringLiteral("message"), QStringLiteral("epoch %1 done, checkpoint saved").arg(epoch)}});
            }
            if (m_diverge && m_step == 300)
                emitEvent(out, QStringLiteral("log"), {{QStringLiteral("level"), QStringLiteral("warning")},
                                                       {QStringLiteral("message"), QStringLiteral("gradient norm 1.9e4 exceeds clip threshold")}});
            if (m_diverge && std::isnan(loss)) {
                emitEvent(out, QStringLiteral("error"), {{QStringLiteral("message"), QStringLiteral("loss is NaN at step %1").arg(m_step)},
                                                         {QStringLiteral("code"), QStringLiteral("NAN_LOSS")}});
                emitEvent(out, QStringLiteral("run_failed"), {{QStringLiteral("message"), QStringLiteral("loss diverged to NaN")}});
                return false;
            }
        }
        const int epoch = qMin(Epochs, m_step / StepsPerEpoch + 1);
        emitEvent(out, QStringLiteral("progress"),
                  {{QStringLiteral("completed"), m_step},
                   {QStringLiteral("total"), TotalSteps},
                   {QStringLiteral("epoch"), epoch},
                   {QStringLiteral("total_epochs"), Epochs},
                   {QStringLiteral("eta_s"), (TotalSteps - m_step) / double(StepsPerTick) * 0.1}});
        if (m_step >= TotalSteps) {
            emitEvent(out, QStringLiteral("run_completed"),
                      {{QStringLiteral("summary"), QJsonObject{{QStringLiteral("final_loss"), number(m_lastLoss)}}}});
            return false;
        }
        return true;
    }

private:
    static constexpr int Epochs = 8;
    static constexpr int StepsPerEpoch = 150;
    static constexpr int TotalSteps = Epochs * StepsPerEpoch;
    static constexpr int StepsPerTick = 2;
    QString m_name;
    bool m_diverge;
    double m_lr;
    int m_step = 0;
    double m_lastLoss = 0;
};

// An evaluation harness: one result per item, a success rate, now and then an error.
class EvaluationScenario : public DemoScenario
{
public:
    using DemoScenario::DemoScenario;

    bool advance(QJsonArray &out, QRandomGenerator &random) override
    {
        if (m_tick++ == 0) {
            emitEvent(out, QStringLiteral("run_started"),
                      {{QStringLiteral("name"), QStringLiteral("eval: reasoning benchmark")},
                       {QStringLiteral("kind"), QStringLiteral("evaluation")},
                       {QStringLiteral("total_steps"), Items},
                       {QStringLiteral("config"), QJsonObject{{QStringLiteral("model"), QStringLiteral("checkpoint-1200")},
                                                              {QStringLiteral("shots"), 5}}}});
            return true;
        }
        if (m_tick % 2)
            return true;
        ++m_item;
        const bool correct = random.bounded(100) < 71;
        emitEvent(out, QStringLiteral("result"),
                  {{QStringLiteral("item"), QStringLiteral("q%1").arg(m_item, 4, 10, QLatin1Char('0'))},
                   {QStringLiteral("correct"), correct},
                   {QStringLiteral("latency_ms"), 300 + random.bounded(900)}});
        if (m_item % 37 == 0)
            emitEvent(out, QStringLiteral("error"), {{QStringLiteral("message"), QStringLiteral("item q%1: backend timed out after 30 s, retrying").arg(m_item)},
                                                     {QStringLiteral("code"), QStringLiteral("TIMEOUT")}});
        emitEvent(out, QStringLiteral("progress"), {{QStringLiteral("completed"), m_item}, {QStringLiteral("total"), Items}});
        if (m_item >= Items) {
            emitEvent(out, QStringLiteral("run_completed"), {});
            return false;
        }
        return true;
    }

private:
    static constexpr int Items = 400;
    int m_item = 0;
};

// A research plan run by an agent: steps start, progress and finish; one fails.
class WorkflowScenario : public DemoScenario
{
public:
    using DemoScenario::DemoScenario;

    bool advance(QJsonArray &out, QRandomGenerator &random) override
    {
        static const char *const names[] = {"collect sources", "read and summarize", "fetch benchmark data",
                                            "draft report", "review and revise"};
        constexpr int count = int(sizeof names / sizeof names[0]);
        if (m_tick++ == 0) {
            emitEvent(out, QStringLiteral("run_started"),
                      {{QStringLiteral("name"), QStringLiteral("agent: literature review")},
                       {QStringLiteral("kind"), QStringLiteral("workflow")},
                       {QStringLiteral("total_steps"), count}});
            return true;
        }
        if (m_index >= count) {
            emitEvent(out, QStringLiteral("run_completed"), {{QStringLiteral("summary"), QJsonObject{{QStringLiteral("failed_steps"), 1}}}});
            return false;
        }
        const QString step = QStringLiteral("s%1").arg(m_index + 1);
        if (m_progress == 0) {
            emitEvent(out, QStringLiteral("step_started"), {{QStringLiteral("name"), QString::fromLatin1(names[m_index])}}, step);
            emitEvent(out, QStringLiteral("agent_spawned"), {{QStringLiteral("agent"), QStringLiteral("worker-%1").arg(m_index + 1)},
                                                             {QStringLiteral("task"), QString::fromLatin1(names[m_index])}});
        }
        m_progress = qMin(1.0, m_progress + 0.02 + 0.03 * random.generateDouble());
        if (m_index == 2 && m_progress > 0.6) {
            emitEvent(out, QStringLiteral("step_failed"), {{QStringLiteral("message"), QStringLiteral("HTTP 503 from the data mirror")}}, step);
            emitEvent(out, QStringLiteral("log"), {{QStringLiteral("level"), QStringLiteral("error")},
                                                   {QStringLiteral("message"), QStringLiteral("step s3 failed; continuing without benchmark data")}});
            nextStep(out);
            return true;
        }
        emitEvent(out, QStringLiteral("step_progress"), {{QStringLiteral("progress"), m_progress}}, step);
        if (m_progress >= 1.0) {
            emitEvent(out, QStringLiteral("step_completed"), {{QStringLiteral("result"), QStringLiteral("ok")}}, step);
            nextStep(out);
        }
        return true;
    }

private:
    void nextStep(QJsonArray &out)
    {
        ++m_index;
        m_progress = 0;
        emitEvent(out, QStringLiteral("progress"), {{QStringLiteral("completed"), m_index}, {QStringLiteral("total"), 5}});
    }
    int m_index = 0;
    double m_progress = 0;
};

// A chat backend streaming tokens.
class ChatScenario : public DemoScenario
{
public:
    using DemoScenario::DemoScenario;

    bool advance(QJsonArray &out, QRandomGenerator &) override
    {
        static const QString text = QStringLiteral(
            "The validation loss flattened after epoch three while the training loss kept falling, which suggests the "
            "model has started to memorize. Two cheap things to try first: raise weight decay from 0.05 to 0.1, and add "
            "random erasing to the augmentation pipeline. If the gap persists, stop at the best checkpoint instead of "
            "the last one. ");
        if (m_tick++ == 0) {
            emitEvent(out, QStringLiteral("run_started"),
                      {{QStringLiteral("name"), QStringLiteral("chat: training assistant")},
                       {QStringLiteral("kind"), QStringLiteral("chat")}});
            return true;
        }
        if (m_pos >= text.size()) {
            emitEvent(out, QStringLiteral("run_completed"), {});
            return false;
        }
        int end = text.indexOf(QLatin1Char(' '), m_pos + 1);
        end = end < 0 ? int(text.size()) : end;
        emitEvent(out, QStringLiteral("token"), {{QStringLiteral("text"), text.mid(m_pos, end - m_pos)}});
        m_pos = end;
        return true;
    }

private:
    int m_pos = 0;
};

} // namespace

DemoProducer::DemoProducer(const QUrl &serverUrl, const QString &token, int speed, QObject *parent)
    : QObject(parent), m_url(serverUrl), m_token(token), m_random(20261125), m_speed(qMax(1, speed))
{
    m_network = new QNetworkAccessManager(this);
    m_timer.setInterval(100);
    connect(&m_timer, &QTimer::timeout, this, &DemoProducer::tick);
    m_reconnect.setSingleShot(true);
    m_reconnect.setInterval(1000);
    connect(&m_reconnect, &QTimer::timeout, this, &DemoProducer::connectSocket);
}

DemoProducer::~DemoProducer() = default;

void DemoProducer::start()
{
    connectSocket();
}

void DemoProducer::connectSocket()
{
    if (m_socket)
        m_socket->deleteLater();
    m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    connect(m_socket, &QWebSocket::connected, this, [this] {
        m_timer.start();
    });
    // The demo talks to its own process: a self-signed certificate of --tls-cert is fine here.
    connect(m_socket, &QWebSocket::sslErrors, m_socket, [this](const QList<QSslError> &) { m_socket->ignoreSslErrors(); });
    connect(m_socket, &QWebSocket::disconnected, this, [this] {
        m_timer.stop();
        m_reconnect.start();
    });
    QUrl url = m_url;
    url.setScheme(url.scheme() == QLatin1String("https") ? QStringLiteral("wss") : QStringLiteral("ws"));
    url.setPath(QStringLiteral("/ws"));
    QNetworkRequest request(url);
    if (!m_token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
    m_socket->open(request);
}

void DemoProducer::tick()
{
    if (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState)
        return;
    // Never let the demo's own send buffer grow: skip a tick while the server is busy.
    if (m_socket->bytesToWrite() > 1024 * 1024)
        return;
    if (m_deleting > 0)
        return; // room for the next generation is being made
    if (m_scenarios.empty()) {
        startGeneration();
        if (m_deleting > 0)
            return;
    }
    QJsonArray events;
    bool anyRunning = true;
    for (int i = 0; i < m_speed && anyRunning; ++i) {
        anyRunning = false;
        for (auto &scenario : m_scenarios) {
            if (scenario && !scenario->advance(events, m_random))
                scenario.reset();
            anyRunning = anyRunning || scenario;
        }
    }
    if (!anyRunning) {
        m_scenarios.clear(); // the next tick starts a fresh generation of runs
        makeRoom(5);
    }
    if (events.isEmpty())
        return;
    m_sent += events.size();
    const QJsonObject op{{QStringLiteral("op"), QStringLiteral("publish")}, {QStringLiteral("events"), events}};
    m_socket->sendTextMessage(QString::fromUtf8(QJsonDocument(op).toJson(QJsonDocument::Compact)));
}

void DemoProducer::startGeneration()
{
    // Ids carry the start time, so a demo started again on the same data dir adds new runs
    // instead of continuing (and scrambling) the ones it left there last time.
    const QString g = QDateTime::currentDateTime().toString(QStringLiteral("MMdd-HHmmss")) + QLatin1Char('-')
        + QString::number(++m_generation);
    m_scenarios.push_back(std::make_unique<TrainingScenario>(QStringLiteral("train-resnet50-") + g,
                                                             QStringLiteral("resnet50 lr=3e-4"), false, 3e-4));
    m_scenarios.push_back(std::make_unique<TrainingScenario>(QStringLiteral("train-resnet50-hot-") + g,
                                                             QStringLiteral("resnet50 lr=1e-2"), true, 1e-2));
    m_scenarios.push_back(std::make_unique<EvaluationScenario>(QStringLiteral("eval-reasoning-") + g));
    m_scenarios.push_back(std::make_unique<WorkflowScenario>(QStringLiteral("plan-literature-") + g));
    m_scenarios.push_back(std::make_unique<ChatScenario>(QStringLiteral("chat-assistant-") + g));
    for (const auto &scenario : m_scenarios)
        m_runs.push_back(scenario->run());
}

void DemoProducer::makeRoom(int room)
{
    // Called between generations, when every run of this demo has finished: the oldest go first.
    // The next generation waits for the answers, so the server never holds more than MaxRuns.
    while (int(m_runs.size()) + room > MaxRuns && !m_runs.empty()) {
        const QString run = m_runs.front();
        m_runs.pop_front();
        QUrl url = m_url;
        url.setPath(QStringLiteral("/api/runs/") + run); // demo ids need no escaping
        QNetworkRequest request(url);
        if (!m_token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
        QNetworkReply *reply = m_network->deleteResource(request);
        ++m_deleting;
        connect(reply, &QNetworkReply::sslErrors, reply, [reply](const QList<QSslError> &) { reply->ignoreSslErrors(); });
        connect(reply, &QNetworkReply::finished, this, [this, reply] {
            reply->deleteLater();
            --m_deleting;
        });
    }
}

} // namespace Runwatch
