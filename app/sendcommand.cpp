#include "sendcommand.h"

#include "codec.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrl>

#include <cstdio>

namespace Runwatch {

namespace {

int fail(const QString &message)
{
    std::fprintf(stderr, "runwatch: %s\n", qPrintable(message));
    return 2;
}

} // namespace

int sendCommand(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Sends one event to a Runwatch server (POST /api/events) and prints its seq."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("send"), QStringLiteral("the command"));
    parser.addOptions({
        {QStringLiteral("url"), QStringLiteral("the server (default: $RUNWATCH_URL, then http://127.0.0.1:7600)"), QStringLiteral("URL")},
        {QStringLiteral("token"), QStringLiteral("a producer token (default: $RUNWATCH_TOKEN)"), QStringLiteral("T")},
        {QStringLiteral("run"), QStringLiteral("the run id"), QStringLiteral("ID")},
        {QStringLiteral("type"), QStringLiteral("the event type (run_started, metric, log, ...)"), QStringLiteral("TYPE")},
        {QStringLiteral("data"), QStringLiteral("the event's data, a JSON object (default {})"), QStringLiteral("JSON"), QStringLiteral("{}")},
        {QStringLiteral("step"), QStringLiteral("the step id, for step events"), QStringLiteral("S")},
        {QStringLiteral("eid"), QStringLiteral("an id of your own, so that sending again does not duplicate the event"), QStringLiteral("E")},
        {QStringLiteral("timeout"), QStringLiteral("seconds to wait for the server (default 10)"), QStringLiteral("S"), QStringLiteral("10")},
    });
    if (!parser.parse(arguments))
        return fail(parser.errorText());
    if (parser.isSet(QStringLiteral("help"))) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        return 0;
    }
    if (!parser.isSet(QStringLiteral("run")) || !parser.isSet(QStringLiteral("type")))
        return fail(QStringLiteral("send needs --run ID and --type TYPE (see runwatch send --help)"));

    Error error;
    const QJsonDocument data = Codec::parseJson(parser.value(QStringLiteral("data")).toUtf8(), &error);
    if (error || !data.isObject())
        return fail(QStringLiteral("--data must be a JSON object%1").arg(error ? QStringLiteral(": ") + error.message : QString()));
    QJsonObject event{{QStringLiteral("run"), parser.value(QStringLiteral("run"))},
                      {QStringLiteral("type"), parser.value(QStringLiteral("type"))},
                      {QStringLiteral("data"), data.object()}};
    if (parser.isSet(QStringLiteral("step")))
        event.insert(QStringLiteral("step"), parser.value(QStringLiteral("step")));
    if (parser.isSet(QStringLiteral("eid")))
        event.insert(QStringLiteral("eid"), parser.value(QStringLiteral("eid")));
    Event checked;
    if (const Error invalid = Codec::parseEvent(event, 0, &checked))
        return fail(QStringLiteral("not a valid event: %1").arg(invalid.message));

    QString base = parser.value(QStringLiteral("url"));
    if (base.isEmpty())
        base = qEnvironmentVariable("RUNWATCH_URL", QStringLiteral("http://127.0.0.1:7600"));
    QUrl url(base);
    if (!url.isValid() || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")) || url.host().isEmpty())
        return fail(QStringLiteral("--url must be an http:// or https:// address, not \"%1\"").arg(base));
    url.setPath(url.path().endsWith(QLatin1Char('/')) ? url.path() + QStringLiteral("api/events")
                                                      : url.path() + QStringLiteral("/api/events"));
    const QString token = parser.isSet(QStringLiteral("token")) ? parser.value(QStringLiteral("token")) : qEnvironmentVariable("RUNWATCH_TOKEN");
    bool ok = false;
    const double timeoutS = parser.value(QStringLiteral("timeout")).toDouble(&ok);
    if (!ok || timeoutS <= 0)
        return fail(QStringLiteral("--timeout must be a positive number of seconds"));

    QNetworkAccessManager nam;
    QNetworkRequest request(url);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    if (!token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + token.toUtf8());
    request.setTransferTimeout(int(timeoutS * 1000));
    QNetworkReply *reply = nam.post(request, QJsonDocument(event).toJson(QJsonDocument::Compact));
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QByteArray body = reply->readAll();
    reply->deleteLater();
    if (status == 0)
        return fail(QStringLiteral("cannot reach %1: %2").arg(url.toString(), reply->errorString()));
    const QJsonObject answer = QJsonDocument::fromJson(body).object();
    if (status != 200) {
        const QJsonObject err = answer.value(QLatin1String("error")).toObject();
        return fail(QStringLiteral("the server refused the event (HTTP %1 %2): %3")
                        .arg(status)
                        .arg(err.value(QLatin1String("code")).toString(), err.value(QLatin1String("message")).toString()));
    }
    // Stored, but the server thinks it was meant otherwise ("metrics" for "metric").
    for (const QJsonValue &warning : answer.value(QLatin1String("warnings")).toArray())
        std::fprintf(stderr, "runwatch: warning: %s\n", qPrintable(warning.toObject().value(QLatin1String("message")).toString()));
    std::printf("%lld\n", static_cast<long long>(answer.value(QLatin1String("seq")).toArray().at(0).toDouble()));
    return 0;
}

} // namespace Runwatch
