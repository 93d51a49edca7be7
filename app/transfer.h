#pragma once

#include <QJsonArray>
#include <QString>
#include <QStringList>

#include <functional>

class QIODevice;

namespace Runwatch::Transfer {

enum class Format { JsonLines, Csv };

// Writes one run from a data dir's database: its envelopes as JSON Lines, or its metrics as a
// table (step, time, then one column per metric). Opens the database read-only, so it works
// while a server owns the data dir.
bool exportRun(const QString &dataDir, const QString &run, Format format, QIODevice *out, QString *error);

// Reads a JSON Lines file of events (as producers send them, or envelopes as exported: their seq
// is dropped and a new one given) and hands them on in chunks. A bad line is reported through
// `skipped` and does not stop the import.
struct ReadResult {
    qint64 lines = 0;
    qint64 events = 0;
    QStringList skipped; // "FILE:LINE: reason"
};
bool readEvents(const QString &file, const std::function<bool(const QJsonArray &chunk, QString *error)> &sink,
                ReadResult *result, QString *error);

// `runwatch export ...` and `runwatch import ...`: exit codes and one-line errors as main's.
int exportCommand(const QStringList &arguments);
int importCommand(const QStringList &arguments);

} // namespace Runwatch::Transfer
