#include "progressdelegate.h"

#include "format.h"

#include <QApplication>
#include <QPainter>

namespace Runwatch {

ProgressDelegate::ProgressDelegate(int progressRole, int statusRole, QObject *parent)
    : QStyledItemDelegate(parent), m_progressRole(progressRole), m_statusRole(statusRole)
{
}

QRect ProgressDelegate::barRect(const QRect &cell)
{
    const int height = qMin(cell.height() - 6, 18);
    return QRect(cell.left() + 4, cell.center().y() - height / 2 + 1, qMax(0, cell.width() - 8), qMax(0, height));
}

void ProgressDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    opt.text.clear();
    const QWidget *widget = option.widget;
    QStyle *style = widget ? widget->style() : QApplication::style();
    style->drawControl(QStyle::CE_ItemViewItem, &opt, painter, widget); // background and selection

    const double progress = index.data(m_progressRole).toDouble();
    if (progress < 0)
        return;
    const QRect bar = barRect(option.rect);
    if (bar.width() < 4 || bar.height() < 4)
        return;
    QColor color = QColor(0x2d, 0x7f, 0xf9);
    if (m_statusRole >= 0)
        color = Format::statusColor(index.data(m_statusRole).toString());
    painter->save();
    painter->setRenderHint(QPainter::Antialiasing);
    painter->setPen(QPen(color.darker(115), 1));
    painter->setBrush(option.palette.base());
    painter->drawRoundedRect(QRectF(bar).adjusted(0.5, 0.5, -0.5, -0.5), 3, 3);
    const double clamped = qBound(0.0, progress, 1.0);
    if (clamped > 0) {
        QRectF fill = QRectF(bar).adjusted(1, 1, -1, -1);
        fill.setWidth(fill.width() * clamped);
        QColor light = color;
        light.setAlpha(170);
        painter->setPen(Qt::NoPen);
        painter->setBrush(light);
        painter->drawRoundedRect(fill, 2, 2);
    }
    const QString text = QStringLiteral("%1 %").arg(clamped * 100.0, 0, 'f', clamped < 0.1 ? 1 : 0);
    painter->setPen(option.palette.color(QPalette::Text));
    QFont font = option.font;
    font.setPointSizeF(font.pointSizeF() * 0.9);
    painter->setFont(font);
    painter->drawText(bar, Qt::AlignCenter, text);
    painter->restore();
}

QSize ProgressDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QSize size = QStyledItemDelegate::sizeHint(option, index);
    size.setWidth(qMax(size.width(), 110));
    size.setHeight(qMax(size.height(), 22));
    return size;
}

} // namespace Runwatch
