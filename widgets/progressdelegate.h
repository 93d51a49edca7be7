#pragma once

#include <QStyledItemDelegate>

namespace Runwatch {

// Paints a progress bar with its percentage for a cell whose `role` holds 0..1 (or -1: unknown,
// painted as an empty cell). Colour follows the status in `statusRole` when given.
class ProgressDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    ProgressDelegate(int progressRole, int statusRole, QObject *parent = nullptr);

    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;
    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;

    // The bar's rectangle inside a cell (exposed for tests).
    static QRect barRect(const QRect &cell);

private:
    int m_progressRole;
    int m_statusRole;
};

} // namespace Runwatch
