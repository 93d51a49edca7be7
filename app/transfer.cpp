#include "transfer.h"

#include "codec.h"
#include "config.h"
#include "hub.h"
#include "metrictable.h"
#include "runstate.h"
#include "sqlitestore.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QVariant>

#include <cmath>
#include <cstdio>
#include <map>

namespace Runwatch::Transfer {

namespace {

int fail(const QString &message)
{
    std::fprintf(stderr, "runwatch: %s\n", qPrintable(message));
    return 2;
}

QString defaultDataDir()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
}

} // namespace

bool exportRun(const QString &dataDir, const QString &run, Format format, QIODevice *out, QString *error)
{
    const QString path = QDir(dataDir).filePath(QStringLiteral("runwatch.db"));
    if (!QFileInfo::exists(path)) {
        *error = QStringLiteral("no Runwatch history in %1 (no runwatch.db)").arg(QDir::toNativeSeparators(dataDir));
        return false;
    }
    const QString connection = QStringLiteral("runwatch-export");
    bool ok = false;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
        db.setDatabaseName(path);
        db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_BUSY_TIMEOUT=5000"));
        QSqlQuery q(db);
        if (!db.open()) {
            *error = QStringLiteral("cannot open %1: %2").arg(path, db.lastError().text());
        } else if (!q.exec(QStringLiteral("PRAGMA application_id")) || !q.next()
                   || q.value(0).toInt() != SqliteStore::ApplicationId) {
            *error = QStringLiteral("%1 is not a Runwatch database").arg(path);
        } else {
            q.setForwardOnly(true);
            q.prepare(QStringLiteral("SELECT envelope FROM events WHERE run = ? ORDER BY seq"));
            q.addBindValue(run);
            if (!q.exec()) {
                *error = QStringLiteral("cannot read %1: %2").arg(path, q.lastError().text());
            } else if (format == Format::JsonLines) {
                qint64 count = 0;
                while (q.next()) {
                    out->write(q.value(0).toByteArray());
                    out->write("\n", 1);
                    ++count;
                }
                ok = count > 0;
                if (!ok)
                    *error = QStringLiteral("no run \"%1\" in %2").arg(run, QDir::toNativeSeparators(dataDir));
            } else {
                // The run's metrics as the server derives them, one row per step.
                RunState state(run);
                qint64 events = 0;
                while (q.next()) {
                    ++events;
                    Event event;
                    if (Codec::parseEnvelope(q.value(0).toByteArray(), &event))
                        state.apply(event);
                }
                if (events == 0) {
                    *error = QStringLiteral("no run \"%1\" in %2").arg(run, QDir::toNativeSeparators(dataDir));
                } else {
                    MetricTable table;
                    for (const QString &name : state.metricNames())
                        table.addSeries(name, *state.series(name));
                    out->write(table.csv());
                    ok = true;
                }
            }
        }
        q.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    return ok;
}

bool readEvents(const QString &file, const std::function<bool(const QJsonArray &chunk, QString *error)> &sink,
                ReadResult *result, QString *error)
{
    QFile in(file);
    if (!in.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1: %2").arg(file, in.errorString());
        return false;
    }
    QJsonArray chunk;
    while (!in.atEnd()) {
        const QByteArray line = in.readLine().trimmed();
        ++result->lines;
        if (line.isEmpty())
            continue;
        Error parseError;
        const QJsonDocument doc = Codec::parseJson(line, &parseError);
        if (parseError || !doc.isObject()) {
            result->skipped.append(QStringLiteral("%1:%2: %3").arg(file).arg(result->lines)
                                       .arg(parseError ? parseError.message : QStringLiteral("not an event object")));
            continue;
        }
        QJsonObject event = doc.object();
        event.remove(QStringLiteral("seq")); // an exported envelope: the server gives a new one
        Event check;
        if (const Error invalid = Codec::parseEvent(event, 0, &check)) {
            result->skipped.append(QStringLiteral("%1:%2: %3").arg(file).arg(result->lines).arg(invalid.message));
            continue;
        }
        chunk.append(event);
        if (chunk.size() >= 5000) {
            if (!sink(chunk, error))
                return false;
            result->events += chunk.size();
            chunk = QJsonArray();
        }
    }
    if (!chunk.isEmpty()) {
        if (!sink(chunk, error))
            return false;
        result->events += chunk.size();
    }
    return true;
}

int exportCommand(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Writes one run's history: envelopes as JSON Lines, or its metrics as CSV."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("export"), QStringLiteral("the command"));
    parser.addPositionalArgument(QStringLiteral("RUN"), QStringLiteral("the run id"));
    parser.addOptions({{QStringLiteral("format"), QStringLiteral("jsonl (envelopes, default) or csv (metric table)"), QStringLiteral("FORMAT"), QStringLiteral("jsonl")},
                       {{QStringLiteral("o"), QStringLiteral("output")}, QStringLiteral("write to FILE instead of standard output"), QStringLiteral("FILE")},
                       {QStringLiteral("data-dir"), QStringLiteral("where history is kept"), QStringLiteral("DIR")}});
    if (!parser.parse(arguments))
        return fail(parser.errorText());
    if (parser.isSet(QStringLiteral("help"))) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        return 0;
    }
    const QStringList positional = parser.positionalArguments();
    if (positional.size() != 2)
        return fail(QStringLiteral("usage: runwatch export RUN [--format jsonl|csv] [-o FILE] [--data-dir DIR]"));
    const QString formatText = parser.value(QStringLiteral("format"));
    if (formatText != QLatin1String("jsonl") && formatText != QLatin1String("csv"))
        return fail(QStringLiteral("--format must be jsonl or csv, not \"%1\"").arg(formatText));
    const Format format = formatText == QLatin1String("csv") ? Format::Csv : Format::JsonLines;
    const QString dataDir = parser.isSet(QStringLiteral("data-dir")) ? parser.value(QStringLiteral("data-dir")) : defaultDataDir();
    QString error;
    if (parser.isSet(QStringLiteral("o"))) {
        QSaveFile out(parser.value(QStringLiteral("o")));
        if (!out.open(QIODevice::WriteOnly))
            return fail(QStringLiteral("cannot write %1: %2").arg(out.fileName(), out.errorString()));
        if (!exportRun(dataDir, positional.at(1), format, &out, &error))
            return fail(error);
        if (!out.commit())
            return fail(QStringLiteral("cannot write %1: %2").arg(out.fileName(), out.errorString()));
        return 0;
    }
    QFile out;
    if (!out.open(stdout, QIODevice::WriteOnly))
        return fail(QStringLiteral("cannot write to standard output"));
    if (!exportRun(dataDir, positional.at(1), format, &out, &error))
        return fail(error);
    return 0;
}

int importCommand(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Adds the events of a JSON Lines file to the history in a data dir."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("import"), QStringLiteral("the command"));
    parser.addPositionalArgument(QStringLiteral("FILE"), QStringLiteral("a .jsonl file: one event (or exported envelope) per line"));
    parser.addOption({QStringLiteral("data-dir"), QStringLiteral("where history is kept"), QStringLiteral("DIR")});
    if (!parser.parse(arguments))
        return fail(parser.errorText());
    if (parser.isSet(QStringLiteral("help"))) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        return 0;
    }
    const QStringList positional = parser.positionalArguments();
    if (positional.size() != 2)
        return fail(QStringLiteral("usage: runwatch import FILE.jsonl [--data-dir DIR]"));
    const QString dataDir = parser.isSet(QStringLiteral("data-dir")) ? parser.value(QStringLiteral("data-dir")) : defaultDataDir();
    if (!QDir().mkpath(dataDir))
        return fail(QStringLiteral("cannot create data dir %1").arg(dataDir));
    QString error;
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dataDir, SqliteStore::Sync::Normal, &error);
    if (!store)
        return fail(error + QStringLiteral(" (a running server takes imports as POST /api/events, or with --follow FILE)"));
    ServerConfig config;
    Hub hub(config, std::move(store));
    ReadResult result;
    const bool ok = readEvents(positional.at(1),
                               [&](const QJsonArray &chunk, QString *sinkError) {
                                   const PublishResult published = hub.publishJson(chunk);
                                   if (published.error)
                                       *sinkError = published.error.message;
                                   return !published.error;
                               },
                               &result, &error);
    for (const QString &line : std::as_const(result.skipped))
        std::fprintf(stderr, "runwatch: %s (skipped)\n", qPrintable(line));
    if (!ok)
        return fail(error);
    std::printf("imported %lld events from %s (%lld lines, %lld skipped)\n", static_cast<long long>(result.events),
                qPrintable(positional.at(1)), static_cast<long long>(result.lines), static_cast<long long>(result.skipped.size()));
    return result.skipped.isEmpty() ? 0 : 1;
}

} // namespace Runwatch::Transfer
