#include "restapi.h"

#include "codec.h"
#include "downsample.h"
#include "hub.h"
#include "metrictable.h"
#include "serverstatus.h"
#include "version.h"
#include "wsclient.h"

#include <QFile>
#include <QJsonArray>
#include <QUrl>

#include <algorithm>
#include <limits>

namespace Runwatch {

namespace {

HttpResponse errorResponse(ErrorCode code, const QString &message)
{
    return HttpResponse::error(httpStatusFor(code), errorCodeName(code), message);
}

HttpResponse unknownRun(const QString &id)
{
    return errorResponse(ErrorCode::UnknownRun, QStringLiteral("no run \"%1\"").arg(id));
}

HttpResponse methodNotAllowed(const QByteArray &allow)
{
    HttpResponse r = errorResponse(ErrorCode::MethodNotAllowed, QStringLiteral("allowed: %1").arg(QString::fromLatin1(allow)));
    r.addHeader("Allow", allow);
    return r;
}

// Parses an optional non-negative integer query parameter.
bool queryInteger(const HttpRequest &request, const QString &key, qint64 fallback, qint64 *out, QString *error)
{
    bool present = false;
    const QString text = request.queryValue(key, &present);
    if (!present || text.isEmpty()) {
        *out = fallback;
        return true;
    }
    qint64 value = 0;
    if (!Codec::parseCount(text, &value)) {
        *error = QStringLiteral("%1= must be a non-negative integer").arg(key);
        return false;
    }
    *out = value;
    return true;
}

} // namespace

RestApi::RestApi(const ServerConfig &config, Hub *hub, const ServerStatus *status)
    : m_config(config)
    , m_hub(hub)
    , m_status(status)
    , m_limiters(config.maxEventsPerSecond, config.maxBytesPerSecond, config.maxEventsPerPublish, config.maxMessageBytes)
{
}

// One row per route, as the protocol document's HTTP section lists them. A path segment in braces
// is a parameter; "{name...}" takes the rest of the path (a metric name may hold slashes, encoded or
// not). Paths under /api and /metrics need a token of any role before anything else is said about
// them; `need` is what the route asks of the role beyond that.
const RestApi::Route RestApi::Routes[] = {
    {"GET, HEAD", "/", Need::Nothing, nullptr, [](RestApi &api, const Call &) { return api.dashboard(); }},
    {"GET, HEAD", "/index.html", Need::Nothing, nullptr, [](RestApi &api, const Call &) { return api.dashboard(); }},
    {"GET, HEAD", "/healthz", Need::Nothing, nullptr, [](RestApi &api, const Call &) { return api.healthz(); }},
    {"GET, HEAD", "/assets/{name}", Need::Nothing, nullptr, [](RestApi &api, const Call &c) { return api.asset(c.param); }},
    {"GET, HEAD", "/metrics", Need::Read, nullptr, [](RestApi &api, const Call &) { return api.prometheus(); }},
    {"POST", "/api/events", Need::Publish, "a %1 token may not publish",
     [](RestApi &api, const Call &c) { return api.postEvents(c.request, c.peer); }},
    {"GET, HEAD", "/api/clients", Need::Admin, "listing clients needs the admin token",
     [](RestApi &api, const Call &) { return api.clients(); }},
    {"GET, HEAD", "/api/runs", Need::Read, nullptr, [](RestApi &api, const Call &) { return api.runs(); }},
    {"GET, HEAD", "/api/runs/{run}", Need::Read, nullptr, [](RestApi &api, const Call &c) { return api.run(c.run); }},
    {"DELETE", "/api/runs/{run}", Need::Admin, "deleting a run needs the admin token",
     [](RestApi &api, const Call &c) { return api.deleteRun(c.run); }},
    {"GET, HEAD", "/api/runs/{run}/events", Need::Read, nullptr, [](RestApi &api, const Call &c) { return api.events(c.run, c.request); }},
    {"GET, HEAD", "/api/runs/{run}/subscribers", Need::Read, nullptr, [](RestApi &api, const Call &c) { return api.subscribers(c.run); }},
    {"GET, HEAD", "/api/runs/{run}/steps", Need::Read, nullptr, [](RestApi &api, const Call &c) { return api.steps(c.run, c.request); }},
    {"GET, HEAD", "/api/runs/{run}/metrics", Need::Read, nullptr, [](RestApi &api, const Call &c) { return api.metricNames(c.run, c.request); }},
    {"GET, HEAD", "/api/runs/{run}/metrics/{name...}", Need::Read, nullptr,
     [](RestApi &api, const Call &c) { return api.metricSeries(c.run, c.param, c.request); }},
};

bool RestApi::matches(const char *pattern, const QStringList &path, QString *run, QString *param)
{
    const QList<QByteArray> parts = QByteArray(pattern).mid(1).split('/');
    if (parts.size() == 1 && parts.first().isEmpty()) // "/"
        return path.size() == 1 && path.first().isEmpty();
    for (qsizetype i = 0; i < parts.size(); ++i) {
        const QByteArray &part = parts.at(i);
        if (part.endsWith("...}")) {
            if (path.size() <= i)
                return false;
            *param = path.mid(i).join(QLatin1Char('/'));
            return true;
        }
        if (i >= path.size())
            return false;
        if (part == "{run}")
            *run = path.at(i);
        else if (part.startsWith('{'))
            *param = path.at(i);
        else if (path.at(i) != QLatin1String(part))
            return false;
    }
    return parts.size() == path.size();
}

HttpResponse RestApi::handle(const HttpRequest &request, Role role, bool wrongToken, const QString &peer)
{
    QStringList path;
    if (!Http::splitPath(request.path, &path))
        return errorResponse(ErrorCode::InvalidRequest, QStringLiteral("the path is not valid UTF-8"));
    const bool tokenNeeded = path.value(0) == QLatin1String("api") || path == QStringList{QStringLiteral("metrics")};
    if (tokenNeeded && wrongToken)
        return errorResponse(ErrorCode::AuthFailed, QStringLiteral("wrong token"));
    if (tokenNeeded && !canRead(role))
        return errorResponse(ErrorCode::AuthRequired, QStringLiteral("this endpoint needs a token: Authorization: Bearer … or ?token=…"));

    QByteArray allowed; // the methods of the routes whose path matches
    for (const Route &route : Routes) {
        Call call{request, role, peer, {}, {}};
        if (!matches(route.pattern, path, &call.run, &call.param))
            continue;
        const QList<QByteArray> methods = QByteArray(route.methods).split(',');
        const bool takes = std::any_of(methods.cbegin(), methods.cend(), [&](const QByteArray &m) { return m.trimmed() == request.method; });
        if (!takes) {
            allowed += allowed.isEmpty() ? QByteArray(route.methods) : ", " + QByteArray(route.methods);
            continue;
        }
        const bool permitted = route.need == Need::Publish ? canPublish(role) : route.need == Need::Admin ? isAdmin(role) : true;
        if (!permitted)
            return errorResponse(ErrorCode::Forbidden, QString::fromLatin1(route.forbidden).arg(roleName(role)));
        return route.handler(*this, call);
    }
    if (!allowed.isEmpty())
        return methodNotAllowed(allowed);
    return errorResponse(ErrorCode::NotFound, QStringLiteral("nothing at %1").arg(QString::fromUtf8(request.path)));
}

HttpResponse RestApi::asset(const QString &name) const
{
    // One plain file name: no separators, no dot files (splitPath already decoded the segment).
    if (name.isEmpty() || name.startsWith(QLatin1Char('.')) || name.contains(QLatin1Char('/')) || name.contains(QLatin1Char('\\')))
        return errorResponse(ErrorCode::NotFound, QStringLiteral("no asset %1").arg(name));
    QFile file(QStringLiteral(":/runwatch/web/assets/") + name);
    if (!file.open(QIODevice::ReadOnly))
        return errorResponse(ErrorCode::NotFound, QStringLiteral("no asset %1").arg(name));
    HttpResponse r;
    r.body = file.readAll();
    if (name.endsWith(QLatin1String(".js")))
        r.contentType = "text/javascript; charset=utf-8";
    else if (name.endsWith(QLatin1String(".css")))
        r.contentType = "text/css; charset=utf-8";
    else if (name.endsWith(QLatin1String(".svg")))
        r.contentType = "image/svg+xml";
    else if (name.endsWith(QLatin1String(".png")))
        r.contentType = "image/png";
    else
        r.contentType = "application/octet-stream";
    r.addHeader("X-Content-Type-Options", "nosniff");
    r.addHeader("Cache-Control", "no-cache");
    return r;
}

HttpResponse RestApi::dashboard() const
{
    QFile file(QStringLiteral(":/runwatch/web/index.html"));
    HttpResponse r;
    r.contentType = "text/html; charset=utf-8";
    if (file.open(QIODevice::ReadOnly)) {
        r.body = file.readAll();
    } else {
        r.body = "<!doctype html><title>Runwatch</title><p>Runwatch is running; the dashboard page is not "
                 "part of this build. The REST API is at <a href=\"/api/runs\">/api/runs</a>.</p>";
    }
    r.addHeader("Content-Security-Policy",
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    r.addHeader("X-Frame-Options", "DENY");
    return r;
}

HttpResponse RestApi::healthz() const
{
    return HttpResponse::json(200, Codec::compact(QJsonObject{
        {QStringLiteral("status"), QStringLiteral("ok")},
        {QStringLiteral("version"), QStringLiteral(RUNWATCH_VERSION)},
        {QStringLiteral("protocol"), 1},
        {QStringLiteral("uptime_s"), double(m_status->uptimeMs()) / 1000.0},
        {QStringLiteral("last_seq"), double(m_hub->lastSeq())},
        {QStringLiteral("runs"), int(m_hub->runs().size())},
        {QStringLiteral("clients"), int(m_status->clients().size())},
    }));
}

HttpResponse RestApi::prometheus() const
{
    const HubCounters &hub = m_hub->counters();
    const EndpointCounters ep = m_status->counters();
    qint64 queued = 0;
    for (const WsClient *client : m_status->clients())
        queued += client->queuedBytes();
    QByteArray out;
    auto metric = [&](const char *name, const char *type, const char *help, qint64 value, const char *labels = nullptr) {
        out.append("# HELP runwatch_").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE runwatch_").append(name).append(' ').append(type).append('\n');
        out.append("runwatch_").append(name);
        if (labels)
            out.append('{').append(labels).append('}');
        out.append(' ').append(QByteArray::number(value)).append('\n');
    };
    metric("connections", "gauge", "Open WebSocket connections.", m_status->clients().size(), "kind=\"websocket\"");
    out.append("runwatch_connections{kind=\"http\"} ").append(QByteArray::number(m_status->httpConnections())).append('\n');
    metric("websocket_accepted_total", "counter", "WebSocket connections accepted.", ep.wsAccepted);
    metric("http_requests_total", "counter", "HTTP requests answered.", ep.httpRequests);
    metric("events_ingested_total", "counter", "Events accepted and stored.", hub.eventsIngested);
    metric("publish_rejected_total", "counter", "Publish requests refused (invalid or not stored).", hub.publishRejected);
    metric("frames_sent_total", "counter", "WebSocket frames of events sent to subscribers.", hub.framesSent);
    metric("deliveries_total", "counter", "Live events delivered to subscribers.", hub.deliveries);
    metric("clients_dropped_total", "counter", "Clients disconnected by the server.", hub.laggingDropped, "reason=\"lagging\"");
    out.append("runwatch_clients_dropped_total{reason=\"keepalive\"} ").append(QByteArray::number(ep.keepaliveDropped)).append('\n');
    metric("duplicates_ignored_total", "counter", "Events not stored again because their producer id (eid) was known.", hub.duplicatesIgnored);
    metric("publish_limited_total", "counter", "Publish requests refused for a producer's events/s or bytes/s limit.", hub.rateLimited, "limit=\"rate\"");
    out.append("runwatch_publish_limited_total{limit=\"runs_or_metrics\"} ").append(QByteArray::number(hub.limitRefused)).append('\n');
    metric("messages_parsed_ahead_total", "counter", "WebSocket messages parsed on a parse thread (large ones).", ep.parsedAhead);
    metric("tcp_connections", "gauge", "Open TCP connections (what the connection limits count).", m_status->openConnections());
    metric("connections_refused_total", "counter", "Connections refused at the connection limits.", ep.connectionsRefused);
    metric("queue_bytes", "gauge", "Bytes queued for WebSocket clients and not yet written.", queued);
    metric("runs", "gauge", "Runs known to the server.", m_hub->runs().size());
    metric("last_seq", "gauge", "Highest seq assigned.", m_hub->lastSeq());
    metric("stored_events", "gauge", "Events held for replay.", m_hub->store().storedEvents());
    metric("stored_bytes", "gauge", "Bytes held for replay.", m_hub->store().storedBytes());
    metric("metric_points_memory_bytes", "gauge", "Memory held for metric points: recent points and summaries of stored blocks.", m_hub->history().memoryBytes());
    metric("metric_point_blocks", "gauge", "Blocks of metric points in the store.", m_hub->history().storedBlocks());
    metric("store_write_errors_total", "counter", "Writes to the data dir that failed (disk full, read-only, I/O error).", m_hub->store().writeErrors());
    metric("store_writable", "gauge", "0 from a failed write to the data dir until a write succeeds again, else 1.", m_hub->store().writable() ? 1 : 0);
    metric("uptime_seconds", "gauge", "Seconds since the server started.", m_status->uptimeMs() / 1000);
    HttpResponse r;
    r.contentType = "text/plain; version=0.0.4; charset=utf-8";
    r.body = out;
    return r;
}

HttpResponse RestApi::runs() const
{
    QByteArray out = "[";
    bool first = true;
    for (const RunState *state : m_hub->runs()) {
        if (!first)
            out.append(',');
        first = false;
        out.append(Codec::compact(state->summary(false)));
    }
    out.append(']');
    return HttpResponse::json(200, out);
}

HttpResponse RestApi::run(const QString &id) const
{
    const RunState *state = m_hub->run(id);
    if (!state)
        return unknownRun(id);
    return HttpResponse::json(200, Codec::compact(state->summary(true)));
}

HttpResponse RestApi::events(const QString &id, const HttpRequest &request) const
{
    if (!m_hub->run(id))
        return unknownRun(id);
    qint64 since = 0, limit = 0;
    QString error;
    if (!queryInteger(request, QStringLiteral("since"), 0, &since, &error)
        || !queryInteger(request, QStringLiteral("limit"), 10000, &limit, &error))
        return errorResponse(ErrorCode::InvalidRequest, error);
    limit = qBound(qint64(1), limit, qint64(100000));
    const QVector<StoredEnvelope> stored = m_hub->store().readRun(id, since, int(limit), std::numeric_limits<qint64>::max());
    QByteArray out = "[";
    for (qsizetype i = 0; i < stored.size(); ++i) {
        if (i)
            out.append(',');
        out.append(stored.at(i).json);
    }
    out.append(']');
    HttpResponse r = HttpResponse::json(200, out);
    if (stored.size() == limit)
        r.addHeader("X-Runwatch-Next-Since", QByteArray::number(stored.last().seq));
    return r;
}

HttpResponse RestApi::metricNames(const QString &id, const HttpRequest &request) const
{
    const RunState *state = m_hub->run(id);
    if (!state)
        return unknownRun(id);
    const QString format = request.queryValue(QStringLiteral("format"));
    if (!format.isEmpty() && format != QLatin1String("json") && format != QLatin1String("csv"))
        return errorResponse(ErrorCode::InvalidRequest, QStringLiteral("format= must be json or csv"));
    if (format != QLatin1String("csv"))
        return HttpResponse::json(200, Codec::compact(QJsonArray::fromStringList(state->metricNames())));
    // Every metric (or those named in names=a,b) as one table: a row per step.
    bool named = false;
    const QString namesText = request.queryValue(QStringLiteral("names"), &named);
    const QStringList names = named ? namesText.split(QLatin1Char(','), Qt::SkipEmptyParts) : state->metricNames();
    MetricTable table;
    for (const QString &name : names) {
        if (!state->hasMetric(name))
            return errorResponse(ErrorCode::UnknownMetric, QStringLiteral("run \"%1\" has no metric \"%2\"").arg(id, name));
        table.addSeries(name, m_hub->history().read(id, name));
    }
    HttpResponse r;
    r.contentType = "text/csv; charset=utf-8";
    r.body = table.csv();
    r.addHeader("Content-Disposition", "attachment; filename=\"" + QUrl::toPercentEncoding(id) + "-metrics.csv\"");
    return r;
}

HttpResponse RestApi::steps(const QString &id, const HttpRequest &request) const
{
    const RunState *state = m_hub->run(id);
    if (!state)
        return unknownRun(id);
    qint64 offset = 0, limit = 0;
    QString error;
    if (!queryInteger(request, QStringLiteral("offset"), 0, &offset, &error)
        || !queryInteger(request, QStringLiteral("limit"), RunState::MaxStepsInSummary, &limit, &error))
        return errorResponse(ErrorCode::InvalidRequest, error);
    limit = qBound(qint64(1), limit, qint64(10000));
    const QVector<StepState> &all = state->steps();
    QJsonArray page;
    for (qint64 i = offset; i < qMin<qint64>(all.size(), offset + limit); ++i)
        page.append(state->stepJson(all.at(i)));
    return HttpResponse::json(200, Codec::compact(QJsonObject{{QStringLiteral("run"), id},
                                                              {QStringLiteral("total"), int(all.size())},
                                                              {QStringLiteral("offset"), double(offset)},
                                                              {QStringLiteral("steps"), page}}));
}

HttpResponse RestApi::metricSeries(const QString &id, const QString &name, const HttpRequest &request) const
{
    const RunState *state = m_hub->run(id);
    if (!state)
        return unknownRun(id);
    if (!state->hasMetric(name))
        return errorResponse(ErrorCode::UnknownMetric, QStringLiteral("run \"%1\" has no metric \"%2\"").arg(id, name));
    // Older points come from the store: memory holds only each series' recent ones.
    const MetricSeries points = m_hub->history().read(id, name);
    const MetricSeries *series = &points;
    qint64 maxPoints = 0;
    QString error;
    if (!queryInteger(request, QStringLiteral("max_points"), 0, &maxPoints, &error))
        return errorResponse(ErrorCode::InvalidRequest, error);
    const QString format = request.queryValue(QStringLiteral("format"));
    if (!format.isEmpty() && format != QLatin1String("json") && format != QLatin1String("csv"))
        return errorResponse(ErrorCode::InvalidRequest, QStringLiteral("format= must be json or csv"));
    const QVector<qsizetype> picked = downsampleMinMax(series->values.constData(), series->size(), maxPoints);

    QByteArray out;
    out.reserve(picked.size() * 40 + 128);
    if (format == QLatin1String("csv")) {
        out.append("step,value,ts\n");
        for (qsizetype i : picked) {
            QByteArray value = Codec::metricValueJson(series->values.at(i));
            if (value.startsWith('"'))
                value = value.mid(1, value.size() - 2);
            out.append(QByteArray::number(series->steps.at(i))).append(',').append(value).append(',');
            out.append(QByteArray::number(series->tsMs.at(i))).append('\n');
        }
        HttpResponse r;
        r.contentType = "text/csv; charset=utf-8";
        r.body = out;
        return r;
    }
    out.append("{\"run\":").append(Codec::jsonString(id));
    out.append(",\"name\":").append(Codec::jsonString(name));
    out.append(",\"total\":").append(QByteArray::number(series->size()));
    out.append(",\"points\":[");
    bool first = true;
    for (qsizetype i : picked) {
        if (!first)
            out.append(',');
        first = false;
        out.append('[').append(QByteArray::number(series->steps.at(i))).append(',');
        out.append(Codec::metricValueJson(series->values.at(i))).append(',');
        out.append(QByteArray::number(series->tsMs.at(i))).append(']');
    }
    out.append("]}");
    return HttpResponse::json(200, out);
}

HttpResponse RestApi::postEvents(const HttpRequest &request, const QString &peer)
{
    Error error;
    const QJsonDocument doc = Codec::parseJson(request.body, &error, 64, m_config.maxStringBytes);
    if (error)
        return errorResponse(error.code, error.message);
    const QJsonValue payload = doc.isArray() ? QJsonValue(doc.array()) : QJsonValue(doc.object());
    const qint64 events = doc.isArray() ? doc.array().size() : 1;
    if (const qint64 waitMs = m_limiters.admit(peer, events, request.body.size(), monotonicNs())) {
        m_hub->countRateLimited();
        const ServerConfig &config = m_config;
        const QString message = rateLimitedMessage(config.maxEventsPerSecond, config.maxBytesPerSecond,
                                                   peer.isEmpty() ? QStringLiteral("this address") : peer, waitMs);
        const QJsonObject inner{{QStringLiteral("code"), errorCodeName(ErrorCode::RateLimited)},
                                {QStringLiteral("message"), message},
                                {QStringLiteral("retry_after_ms"), double(waitMs)}};
        HttpResponse r = HttpResponse::json(httpStatusFor(ErrorCode::RateLimited),
                                            Codec::compact(QJsonObject{{QStringLiteral("error"), inner}}));
        r.addHeader("Retry-After", QByteArray::number((waitMs + 999) / 1000));
        return r;
    }
    const PublishResult result = m_hub->publishJson(payload);
    if (result.error)
        return errorResponse(result.error.code, result.error.message);
    QJsonArray seqs;
    for (qint64 seq : result.seqs)
        seqs.append(double(seq));
    QJsonObject answer{{QStringLiteral("accepted"), int(result.seqs.size())}, {QStringLiteral("seq"), seqs}};
    if (result.duplicates > 0)
        answer.insert(QStringLiteral("duplicates"), result.duplicates);
    if (!result.warnings.isEmpty())
        answer.insert(QStringLiteral("warnings"), warningsJson(result.warnings));
    return HttpResponse::json(200, Codec::compact(answer));
}

HttpResponse RestApi::deleteRun(const QString &id)
{
    bool storeFailed = false;
    if (!m_hub->removeRun(id, &storeFailed)) {
        if (storeFailed)
            return errorResponse(ErrorCode::StoreFailed, QStringLiteral("run \"%1\" could not be deleted from the store; it is kept").arg(id));
        return unknownRun(id);
    }
    return HttpResponse::json(200, Codec::compact(QJsonObject{{QStringLiteral("deleted"), id}}));
}

HttpResponse RestApi::clients() const
{
    QJsonArray list;
    for (const WsClient *client : m_status->clients())
        list.append(client->describe());
    return HttpResponse::json(200, Codec::compact(list));
}

HttpResponse RestApi::subscribers(const QString &id) const
{
    const int count = m_hub->subscriberCount(id);
    if (!m_hub->run(id) && count == 0)
        return unknownRun(id);
    return HttpResponse::json(200, Codec::compact(QJsonObject{{QStringLiteral("run"), id}, {QStringLiteral("subscribers"), count}}));
}

} // namespace Runwatch
