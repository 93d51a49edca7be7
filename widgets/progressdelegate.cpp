#include "progressdelegate.h"

#include "format.h"

#include <QApplication>
#include <QPainter>
#include <QStyleOptionProgressBar>

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
    const QRect rect = barRect(option.rect);
    if (rect.width() < 4 || rect.height() < 4)
        return;
    // The style draws the bar (so it looks native); the status picks its colour.
    QStyleOptionProgressBar bar;
    if (widget)
        bar.initFrom(widget);
    bar.state = option.state | QStyle::State_Horizontal;
    bar.rect = rect;
    bar.minimum = 0;
    bar.maximum = 1000;
    bar.progress = int(qBound(0.0, progress, 1.0) * 1000.0 + 0.5);
    bar.textVisible = true;
    bar.textAlignment = Qt::AlignCenter;
    bar.text = Format::percent(progress, progress < 0.1 ? 1 : 0);
    bar.fontMetrics = option.fontMetrics;
    bar.palette = option.palette;
    if (m_statusRole >= 0) {
        QColor color = Format::statusColor(index.data(m_statusRole).toString());
        bar.palette.setColor(QPalette::Highlight, color);
        bar.palette.setColor(QPalette::HighlightedText, Qt::white);
    }
    bar.palette.setColor(QPalette::Text, option.palette.color(QPalette::Text));
    bar.state &= ~QStyle::State_Selected; // keep the bar readable on a selected row
    style->drawControl(QStyle::CE_ProgressBar, &bar, painter, widget);
}

QSize ProgressDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QSize size = QStyledItemDelegate::sizeHint(option, index);
    size.setWidth(qMax(size.width(), 110));
    size.setHeight(qMax(size.height(), 22));
    return size;
}

} // namespace Runwatch
