#include "options.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QRandomGenerator>
#include <QStandardPaths>

#include <cstdio>

namespace Runwatch {

QString generateToken()
{
    QByteArray bytes(24, Qt::Uninitialized);
    QRandomGenerator::system()->generate(bytes.begin(), bytes.end());
    return QString::fromLatin1(bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

namespace {

bool parseNumber(const QString &text, const QString &flag, qint64 min, qint64 max, qint64 *out, QString *error)
{
    bool ok = false;
    const qint64 value = text.toLongLong(&ok);
    if (!ok || value < min || value > max) {
        *error = QStringLiteral("%1 must be a whole number from %2 to %3, not \"%4\"").arg(flag).arg(min).arg(max).arg(text);
        return false;
    }
    *out = value;
    return true;
}

bool parseSeconds(const QString &text, const QString &flag, int *outMs, QString *error)
{
    bool ok = false;
    const double value = text.toDouble(&ok);
    if (!ok || value < 0 || value > 86400) {
        *error = QStringLiteral("%1 must be a number of seconds from 0 to 86400, not \"%2\"").arg(flag, text);
        return false;
    }
    *outMs = int(value * 1000);
    return true;
}

// Edit distance, for "did you mean" on a mistyped flag.
int distance(const QString &a, const QString &b)
{
    QVector<int> row(b.size() + 1);
    for (qsizetype j = 0; j <= b.size(); ++j)
        row[j] = int(j);
    for (qsizetype i = 1; i <= a.size(); ++i) {
        int diagonal = row[0];
        row[0] = int(i);
        for (qsizetype j = 1; j <= b.size(); ++j) {
            const int above = row[j];
            row[j] = qMin(qMin(row[j] + 1, row[j - 1] + 1), diagonal + (a.at(i - 1) == b.at(j - 1) ? 0 : 1));
            diagonal = above;
        }
    }
    return row[b.size()];
}

// The parser's own message as one of ours: "unknown option 'hedless' (did you mean --headless?)".
QString parseError(const QCommandLineParser &parser, const QList<QCommandLineOption> &options)
{
    QString text = parser.errorText();
    if (text.endsWith(QLatin1Char('.')))
        text.chop(1);
    if (!text.isEmpty())
        text[0] = text.at(0).toLower();
    const QStringList unknown = parser.unknownOptionNames();
    if (unknown.size() == 1) {
        QString best;
        int bestDistance = 3; // more than two edits away is another word, not a typo
        for (const QCommandLineOption &option : options) {
            for (const QString &name : option.names()) {
                const int d = name.size() > 1 ? distance(unknown.first(), name) : 99;
                if (d < bestDistance) {
                    bestDistance = d;
                    best = name;
                }
            }
        }
        if (!best.isEmpty())
            text += QStringLiteral(" (did you mean --%1?)").arg(best);
    }
    return text;
}

// A token kept in a file (so that it stays out of `ps` and the shell history): its first line,
// trimmed.
bool readTokenFile(const QString &file, const QString &flag, QString *token, QString *error)
{
    QFile in(file);
    if (!in.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1 %2: %3").arg(flag, file, in.errorString());
        return false;
    }
    *token = QString::fromUtf8(in.readLine()).trimmed();
    if (token->isEmpty()) {
        *error = QStringLiteral("%1 %2 is empty (the token is its first line)").arg(flag, file);
        return false;
    }
    return true;
}

// A token given directly, from a file, or through the environment. On the command line the one
// given last wins (saved settings come first, so a flag given by hand wins over them); the
// environment is the fallback.
bool resolveToken(const QCommandLineParser &parser, const QCommandLineOption &direct, const QCommandLineOption &file,
                  const char *environment, QString *token, QString *error)
{
    const QStringList given = parser.optionNames();
    qsizetype directAt = -1, fileAt = -1;
    for (qsizetype i = 0; i < given.size(); ++i) {
        if (direct.names().contains(given.at(i)))
            directAt = i;
        else if (file.names().contains(given.at(i)))
            fileAt = i;
    }
    if (fileAt > directAt)
        return readTokenFile(parser.value(file), QStringLiteral("--") + file.names().first(), token, error);
    *token = directAt >= 0 ? parser.value(direct) : qEnvironmentVariable(environment);
    return true;
}

} // namespace

bool parseOptions(const QStringList &arguments, AppOptions *options, QString *error)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QCoreApplication::translate(
        "main", "Runwatch: watch long-running jobs live. Producers push events over WebSocket or HTTP;\n"
                "the desktop window and remote dashboards see them in milliseconds."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption headless(QStringLiteral("headless"), QCoreApplication::translate("main", "Serve without any window."));
    const QCommandLineOption demo(QStringLiteral("demo"), QCoreApplication::translate("main", "Start simulated producers so that there is something to watch."));
    const QCommandLineOption bind(QStringLiteral("bind"), QCoreApplication::translate("main", "Address to listen on (default 127.0.0.1). Any non-loopback address requires a token."), QStringLiteral("ADDR"), QStringLiteral("127.0.0.1"));
    const QCommandLineOption port(QStringLiteral("port"), QCoreApplication::translate("main", "Port to listen on; 0 picks a free one (default 7600)."), QStringLiteral("N"), QStringLiteral("7600"));
    const QCommandLineOption dataDir(QStringLiteral("data-dir"), QCoreApplication::translate("main", "Where history is kept (default: the user's application data folder)."), QStringLiteral("DIR"));
    const QCommandLineOption token(QStringLiteral("token"), QCoreApplication::translate("main", "Producer/admin token (default: $RUNWATCH_TOKEN; generated on non-loopback binds)."), QStringLiteral("T"));
    const QCommandLineOption tokenFile(QStringLiteral("token-file"), QCoreApplication::translate("main", "Read the producer/admin token from the first line of FILE."), QStringLiteral("FILE"));
    const QCommandLineOption viewerToken(QStringLiteral("viewer-token"), QCoreApplication::translate("main", "Read-only token for dashboards (default: $RUNWATCH_VIEWER_TOKEN)."), QStringLiteral("T"));
    const QCommandLineOption viewerTokenFile(QStringLiteral("viewer-token-file"), QCoreApplication::translate("main", "Read the read-only token from the first line of FILE."), QStringLiteral("FILE"));
    const QCommandLineOption allowOrigin(QStringLiteral("allow-origin"), QCoreApplication::translate("main", "A browser origin allowed besides the server's own (repeatable; * allows any)."), QStringLiteral("ORIGIN"));
    const QCommandLineOption maxMessage(QStringLiteral("max-message-bytes"), QCoreApplication::translate("main", "Largest WebSocket message or HTTP body (default 16777216)."), QStringLiteral("N"));
    const QCommandLineOption maxQueue(QStringLiteral("max-queue-bytes"), QCoreApplication::translate("main", "Unsent bytes a subscriber may fall behind before it is cut loose (default 8388608)."), QStringLiteral("N"));
    const QCommandLineOption pingInterval(QStringLiteral("ping-interval"), QCoreApplication::translate("main", "Seconds of silence before the server pings a client (default 10)."), QStringLiteral("S"));
    const QCommandLineOption keepalive(QStringLiteral("keepalive-timeout"), QCoreApplication::translate("main", "Seconds of silence after which a client is dropped (default 25)."), QStringLiteral("S"));
    const QCommandLineOption follow(QStringLiteral("follow"), QCoreApplication::translate("main", "Tail a JSON Lines file of events (one producer event per line) and publish what is appended; survives truncation and rotation (repeatable)."), QStringLiteral("FILE"));
    const QCommandLineOption syncFull(QStringLiteral("sync-full"), QCoreApplication::translate("main", "Flush every commit to the disk: acknowledged events survive a power loss too, not only a crash (slower)."));
    const QCommandLineOption retainDays(QStringLiteral("retain-days"), QCoreApplication::translate("main", "Delete finished runs that ended more than N days ago (default 0: keep everything)."), QStringLiteral("N"));
    const QCommandLineOption maxHistory(QStringLiteral("max-history-mb"), QCoreApplication::translate("main", "Past this much stored history, delete the finished runs that ended first (default 0: no cap)."), QStringLiteral("N"));
    const QCommandLineOption tlsCert(QStringLiteral("tls-cert"), QCoreApplication::translate("main", "Serve https and wss with this PEM certificate (chain); needs --tls-key."), QStringLiteral("FILE"));
    const QCommandLineOption tlsKey(QStringLiteral("tls-key"), QCoreApplication::translate("main", "The PEM private key of --tls-cert."), QStringLiteral("FILE"));
    const QCommandLineOption maxConnections(QStringLiteral("max-connections"), QCoreApplication::translate("main", "Open connections the server holds in total (default 16384)."), QStringLiteral("N"));
    const QCommandLineOption maxPerAddress(QStringLiteral("max-connections-per-address"), QCoreApplication::translate("main", "Open connections from one address (default 4096)."), QStringLiteral("N"));
    const QCommandLineOption maxSubscriptions(QStringLiteral("max-subscriptions"), QCoreApplication::translate("main", "Subscriptions one connection may hold (default 256)."), QStringLiteral("N"));
    const QCommandLineOption maxPerPublish(QStringLiteral("max-events-per-publish"), QCoreApplication::translate("main", "Events in one publish (default 10000)."), QStringLiteral("N"));
    const QCommandLineOption maxEventRate(QStringLiteral("max-events-per-second"), QCoreApplication::translate("main", "Events a second one producer may publish, in bursts of up to two seconds' worth (default 100000; 0: no limit)."), QStringLiteral("N"));
    const QCommandLineOption maxByteRate(QStringLiteral("max-bytes-per-second"), QCoreApplication::translate("main", "Bytes a second one producer may publish (default 67108864; 0: no limit)."), QStringLiteral("N"));
    const QCommandLineOption maxRuns(QStringLiteral("max-runs"), QCoreApplication::translate("main", "Runs the server holds; events that would start another are refused (default 10000)."), QStringLiteral("N"));
    const QCommandLineOption maxMetrics(QStringLiteral("max-metrics-per-run"), QCoreApplication::translate("main", "Metric names one run may have (default 10000)."), QStringLiteral("N"));
    const QCommandLineOption maxSteps(QStringLiteral("max-steps-per-run"), QCoreApplication::translate("main", "Step ids one run may have (default 10000)."), QStringLiteral("N"));
    const QCommandLineOption maxString(QStringLiteral("max-string-bytes"), QCoreApplication::translate("main", "Longest JSON string in a published event (default 1048576)."), QStringLiteral("N"));
    // How many times faster than real time the demo runs: lets a test watch many generations of
    // demo runs come and go in a few seconds. Not for people, so not in --help.
    QCommandLineOption demoSpeed(QStringLiteral("demo-speed"), QStringLiteral("Demo time lapse factor."), QStringLiteral("N"));
    demoSpeed.setFlags(QCommandLineOption::HiddenFromHelp);
    const QCommandLineOption screenshot(QStringLiteral("screenshot"), QCoreApplication::translate("main", "Save the window as PNG once it has settled, then exit."), QStringLiteral("FILE"));
    const QCommandLineOption lang(QStringLiteral("lang"), QCoreApplication::translate("main", "User interface language (for example de)."), QStringLiteral("LANG"));
    const QList<QCommandLineOption> all{headless, demo, bind, port, dataDir, token, tokenFile, viewerToken, viewerTokenFile,
                                        allowOrigin, maxMessage, maxQueue, pingInterval, keepalive, follow, syncFull, retainDays,
                                        maxHistory, tlsCert, tlsKey, maxConnections, maxPerAddress, maxEventRate, maxByteRate,
                                        maxRuns, maxMetrics, maxSteps, maxString, maxSubscriptions, maxPerPublish, demoSpeed, screenshot, lang};
    parser.addOptions(all);

    if (!parser.parse(arguments)) {
        *error = parseError(parser, all);
        return false;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        std::exit(0);
    }
    if (parser.isSet(QStringLiteral("version"))) {
        std::printf("%s %s\n", qPrintable(QCoreApplication::applicationName()), qPrintable(QCoreApplication::applicationVersion()));
        std::exit(0);
    }
    if (!parser.positionalArguments().isEmpty()) {
        *error = QStringLiteral("unexpected argument \"%1\" (see --help)").arg(parser.positionalArguments().first());
        return false;
    }

    ServerConfig &config = options->server;
    options->headless = parser.isSet(headless);
    options->demo = parser.isSet(demo);
    options->screenshot = parser.value(screenshot);
    qint64 number = 0;
    if (parser.isSet(demoSpeed)) {
        if (!parseNumber(parser.value(demoSpeed), QStringLiteral("--demo-speed"), 1, 1000, &number, error))
            return false;
        options->demoSpeed = int(number);
    }
    options->lang = parser.value(lang);

    const QString bindText = parser.value(bind).trimmed();
    if (bindText == QLatin1String("localhost"))
        config.bind = QHostAddress(QHostAddress::LocalHost);
    else if (!config.bind.setAddress(bindText)) {
        *error = QStringLiteral("--bind needs an IP address such as 127.0.0.1 or 0.0.0.0, not \"%1\"").arg(bindText);
        return false;
    }
    if (!parseNumber(parser.value(port), QStringLiteral("--port"), 0, 65535, &number, error))
        return false;
    config.port = quint16(number);
    if (parser.isSet(maxMessage)) {
        if (!parseNumber(parser.value(maxMessage), QStringLiteral("--max-message-bytes"), 1024, qint64(1) << 30, &number, error))
            return false;
        config.maxMessageBytes = number;
    }
    if (parser.isSet(maxQueue)) {
        if (!parseNumber(parser.value(maxQueue), QStringLiteral("--max-queue-bytes"), 65536, qint64(1) << 32, &number, error))
            return false;
        config.maxQueueBytes = number;
    }
    if (parser.isSet(pingInterval) && !parseSeconds(parser.value(pingInterval), QStringLiteral("--ping-interval"), &config.pingIntervalMs, error))
        return false;
    if (parser.isSet(keepalive) && !parseSeconds(parser.value(keepalive), QStringLiteral("--keepalive-timeout"), &config.keepaliveTimeoutMs, error))
        return false;

    config.dataDir = parser.isSet(dataDir) ? parser.value(dataDir)
                                           : QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (!resolveToken(parser, token, tokenFile, "RUNWATCH_TOKEN", &config.token, error)
        || !resolveToken(parser, viewerToken, viewerTokenFile, "RUNWATCH_VIEWER_TOKEN", &config.viewerToken, error))
        return false;
    if (parser.isSet(token) && config.token.isEmpty()) {
        *error = QStringLiteral("--token must not be empty");
        return false;
    }
    if (!config.viewerToken.isEmpty() && config.token.isEmpty()) {
        if (config.bind.isLoopback()) {
            *error = QStringLiteral("--viewer-token needs --token too (otherwise anyone on this machine may publish)");
            return false;
        }
    }
    if (!config.viewerToken.isEmpty() && config.viewerToken == config.token) {
        *error = QStringLiteral("--viewer-token must differ from --token");
        return false;
    }
    if (parser.isSet(retainDays)) {
        if (!parseNumber(parser.value(retainDays), QStringLiteral("--retain-days"), 0, 36500, &number, error))
            return false;
        config.retainDays = int(number);
    }
    if (parser.isSet(maxHistory)) {
        if (!parseNumber(parser.value(maxHistory), QStringLiteral("--max-history-mb"), 0, qint64(1) << 30, &number, error))
            return false;
        config.maxHistoryBytes = number * 1024 * 1024;
    }
    if (parser.isSet(maxConnections)) {
        if (!parseNumber(parser.value(maxConnections), QStringLiteral("--max-connections"), 1, 1000000, &number, error))
            return false;
        config.maxConnections = int(number);
    }
    if (parser.isSet(maxPerAddress)) {
        if (!parseNumber(parser.value(maxPerAddress), QStringLiteral("--max-connections-per-address"), 1, 1000000, &number, error))
            return false;
        config.maxConnectionsPerAddress = int(number);
    }
    if (parser.isSet(maxSubscriptions)) {
        if (!parseNumber(parser.value(maxSubscriptions), QStringLiteral("--max-subscriptions"), 1, 1000000, &number, error))
            return false;
        config.maxSubscriptionsPerClient = int(number);
    }
    if (parser.isSet(maxPerPublish)) {
        if (!parseNumber(parser.value(maxPerPublish), QStringLiteral("--max-events-per-publish"), 1, 1000000, &number, error))
            return false;
        config.maxEventsPerPublish = int(number);
    }
    if (parser.isSet(maxEventRate)) {
        if (!parseNumber(parser.value(maxEventRate), QStringLiteral("--max-events-per-second"), 0, qint64(1) << 40, &number, error))
            return false;
        config.maxEventsPerSecond = number;
    }
    if (parser.isSet(maxByteRate)) {
        if (!parseNumber(parser.value(maxByteRate), QStringLiteral("--max-bytes-per-second"), 0, qint64(1) << 50, &number, error))
            return false;
        config.maxBytesPerSecond = number;
    }
    if (parser.isSet(maxRuns)) {
        if (!parseNumber(parser.value(maxRuns), QStringLiteral("--max-runs"), 1, 100000000, &number, error))
            return false;
        config.maxRuns = int(number);
    }
    if (parser.isSet(maxMetrics)) {
        if (!parseNumber(parser.value(maxMetrics), QStringLiteral("--max-metrics-per-run"), 1, 100000000, &number, error))
            return false;
        config.maxMetricsPerRun = int(number);
    }
    if (parser.isSet(maxSteps)) {
        if (!parseNumber(parser.value(maxSteps), QStringLiteral("--max-steps-per-run"), 1, 100000000, &number, error))
            return false;
        config.maxStepsPerRun = int(number);
    }
    if (parser.isSet(maxString)) {
        if (!parseNumber(parser.value(maxString), QStringLiteral("--max-string-bytes"), 1, qint64(1) << 40, &number, error))
            return false;
        config.maxStringBytes = number;
    }
    config.followFiles = parser.values(follow);
    config.tlsCertFile = parser.value(tlsCert);
    config.tlsKeyFile = parser.value(tlsKey);
    if (config.tlsCertFile.isEmpty() != config.tlsKeyFile.isEmpty()) {
        *error = QStringLiteral("--tls-cert and --tls-key go together: give both or neither");
        return false;
    }
    config.syncFull = parser.isSet(syncFull);
    for (const QString &origin : parser.values(allowOrigin))
        config.allowedOrigins.append(origin.trimmed().toLower());
    if (!config.bind.isLoopback() && config.token.isEmpty()) {
        // Never open on a reachable address: make a token and say it once.
        config.token = generateToken();
        options->tokenGenerated = true;
    }
    return true;
}

} // namespace Runwatch
