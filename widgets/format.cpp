#include "format.h"

#include "runstate.h"

#include <QCoreApplication>
#include <QHash>
#include <QLocale>
#include <QPainter>
#include <QPixmap>

#include <cmath>

namespace Runwatch::Format {

QString duration(double seconds)
{
    if (!(seconds >= 0) || std::isinf(seconds))
        return QString();
    const qint64 s = qint64(std::llround(seconds));
    if (s >= 86400)
        return QCoreApplication::translate("Format", "%1d %2h").arg(s / 86400).arg((s % 86400) / 3600, 2, 10, QLatin1Char('0'));
    if (s >= 3600)
        return QCoreApplication::translate("Format", "%1h %2m").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
    if (s >= 60)
        return QCoreApplication::translate("Format", "%1m %2s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QCoreApplication::translate("Format", "%1s").arg(s);
}

QString metricValue(double value)
{
    if (std::isnan(value))
        return QStringLiteral("NaN");
    if (std::isinf(value))
        return value > 0 ? QStringLiteral("+Inf") : QStringLiteral("-Inf");
    const double magnitude = std::fabs(value);
    if (magnitude != 0 && (magnitude < 1e-3 || magnitude >= 1e6))
        return QLocale().toString(value, 'e', 3);
    return QLocale().toString(value, 'g', 4);
}

QString count(qint64 value)
{
    return QLocale().toString(value);
}

QString percent(double fraction, int decimals)
{
    return QCoreApplication::translate("Format", "%1 %").arg(QLocale().toString(fraction * 100.0, 'f', decimals));
}

QColor statusColor(const QString &status)
{
    if (status == QLatin1String("running"))
        return QColor(0x2d, 0x7f, 0xf9);
    if (status == QLatin1String("completed"))
        return QColor(0x2e, 0x9d, 0x4e);
    if (status == QLatin1String("failed"))
        return QColor(0xd6, 0x45, 0x41);
    if (status == QLatin1String("paused"))
        return QColor(0xe0, 0xa1, 0x00);
    if (status == QLatin1String("cancelled"))
        return QColor(0x6b, 0x6b, 0x6b);
    if (status == QLatin1String("stalled"))
        return QColor(0xe0, 0x6c, 0x00);
    return QColor(0x9a, 0x9a, 0x9a); // pending
}

QIcon statusIcon(const QString &status)
{
    static QHash<QString, QIcon> cache;
    auto it = cache.find(status);
    if (it != cache.end())
        return *it;
    QPixmap pixmap(32, 32);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setRenderHint(QPainter::Antialiasing);
    const QColor color = statusColor(status);
    painter.setPen(QPen(color.darker(130), 2));
    painter.setBrush(color);
    if (status == QLatin1String("failed")) {
        painter.drawEllipse(QRectF(3, 3, 26, 26));
        painter.setPen(QPen(Qt::white, 4, Qt::SolidLine, Qt::RoundCap));
        painter.drawLine(QPointF(11, 11), QPointF(21, 21));
        painter.drawLine(QPointF(21, 11), QPointF(11, 21));
    } else if (status == QLatin1String("completed")) {
        painter.drawEllipse(QRectF(3, 3, 26, 26));
        painter.setPen(QPen(Qt::white, 4, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
        painter.drawPolyline(QPolygonF({QPointF(9, 16), QPointF(14, 21), QPointF(23, 11)}));
    } else if (status == QLatin1String("paused")) {
        painter.drawEllipse(QRectF(3, 3, 26, 26));
        painter.setPen(Qt::NoPen);
        painter.setBrush(Qt::white);
        painter.drawRect(QRectF(11, 10, 4, 12));
        painter.drawRect(QRectF(18, 10, 4, 12));
    } else if (status == QLatin1String("running")) {
        painter.drawEllipse(QRectF(3, 3, 26, 26));
        painter.setPen(Qt::NoPen);
        painter.setBrush(Qt::white);
        painter.drawPolygon(QPolygonF({QPointF(12, 9), QPointF(23, 16), QPointF(12, 23)}));
    } else {
        painter.setBrush(Qt::NoBrush);
        painter.setPen(QPen(color, 3));
        painter.drawEllipse(QRectF(4, 4, 24, 24));
    }
    painter.end();
    QIcon icon(pixmap);
    cache.insert(status, icon);
    return icon;
}

QString statusText(const QString &status)
{
    if (status == QLatin1String("running"))
        return QCoreApplication::translate("Format", "running");
    if (status == QLatin1String("completed"))
        return QCoreApplication::translate("Format", "completed");
    if (status == QLatin1String("failed"))
        return QCoreApplication::translate("Format", "failed");
    if (status == QLatin1String("paused"))
        return QCoreApplication::translate("Format", "paused");
    if (status == QLatin1String("cancelled"))
        return QCoreApplication::translate("Format", "cancelled");
    if (status == QLatin1String("pending"))
        return QCoreApplication::translate("Format", "pending");
    if (status == QLatin1String("stalled"))
        return QCoreApplication::translate("Format", "stalled");
    return status;
}

QString runStatusText(const RunState &run)
{
    if (run.status() == QLatin1String("completed") && run.stoppedEarly())
        return QCoreApplication::translate("Format", "stopped early");
    return statusText(run.status());
}

QString stoppedEarlyText(const RunState &run)
{
    if (!run.stoppedEarly())
        return QString();
    return QCoreApplication::translate("Format", "stopped at %1 of %2")
        .arg(count(qint64(run.completed())), count(qint64(run.total())));
}

QString rateUnit(const QString &metric)
{
    if (metric == QLatin1String("samples_per_second"))
        return QCoreApplication::translate("Format", "samples/s");
    if (metric == QLatin1String("tokens_per_second"))
        return QCoreApplication::translate("Format", "tokens/s");
    if (metric == QLatin1String("steps_per_second"))
        return QCoreApplication::translate("Format", "steps/s");
    if (metric == QLatin1String("events_per_second"))
        return QCoreApplication::translate("Format", "events/s");
    if (metric == QLatin1String("it_per_s"))
        return QCoreApplication::translate("Format", "it/s");
    // Any other "<thing>_per_second" or "<thing>_per_s": the thing, per second.
    for (const QLatin1String suffix : {QLatin1String("_per_second"), QLatin1String("_per_sec"), QLatin1String("_per_s")}) {
        if (metric.endsWith(suffix) && metric.size() > suffix.size()) {
            QString thing = metric.left(metric.size() - suffix.size());
            thing.replace(QLatin1Char('_'), QLatin1Char(' '));
            return thing + QStringLiteral("/s");
        }
    }
    return QStringLiteral("/s"); // a rate of something unnamed
}

QString rate(double perSecond, const QString &unit)
{
    const QString number = std::isfinite(perSecond) && std::fabs(perSecond) >= 100 && std::fabs(perSecond) < 1e6
        ? QLocale().toString(perSecond, 'f', 0)
        : metricValue(perSecond);
    if (unit.startsWith(QLatin1Char('/')))
        return number + unit;
    return number + QLatin1Char(' ') + unit;
}

} // namespace Runwatch::Format
