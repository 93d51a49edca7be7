#include "settingsdialog.h"

#include <QApplication>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHostAddress>
#include <QLabel>
#include <QLineEdit>
#include <QPalette>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStyle>
#include <QStyleFactory>
#include <QVBoxLayout>

namespace Runwatch {

Preferences Preferences::load()
{
    QSettings settings;
    Preferences p;
    p.bind = settings.value(QStringLiteral("server/bind"), p.bind).toString();
    p.port = settings.value(QStringLiteral("server/port"), p.port).toInt();
    p.token = settings.value(QStringLiteral("server/token")).toString();
    p.viewerToken = settings.value(QStringLiteral("server/viewerToken")).toString();
    p.stallSeconds = settings.value(QStringLiteral("ui/stallSeconds"), p.stallSeconds).toInt();
    p.theme = settings.value(QStringLiteral("ui/theme"), p.theme).toString();
    return p;
}

void Preferences::save() const
{
    QSettings settings;
    settings.setValue(QStringLiteral("server/bind"), bind);
    settings.setValue(QStringLiteral("server/port"), port);
    settings.setValue(QStringLiteral("server/token"), token);
    settings.setValue(QStringLiteral("server/viewerToken"), viewerToken);
    settings.setValue(QStringLiteral("ui/stallSeconds"), stallSeconds);
    settings.setValue(QStringLiteral("ui/theme"), theme);
}

QStringList Preferences::serverArguments() const
{
    QStringList args{QStringLiteral("--bind"), bind, QStringLiteral("--port"), QString::number(port)};
    if (!token.isEmpty())
        args << QStringLiteral("--token") << token;
    if (!viewerToken.isEmpty())
        args << QStringLiteral("--viewer-token") << viewerToken;
    return args;
}

void applyTheme(const QString &theme)
{
    static const QPalette systemPalette = QApplication::palette();
    if (theme == QLatin1String("dark")) {
        QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        QPalette dark;
        dark.setColor(QPalette::Window, QColor(0x2b, 0x2d, 0x31));
        dark.setColor(QPalette::WindowText, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Base, QColor(0x1e, 0x1f, 0x22));
        dark.setColor(QPalette::AlternateBase, QColor(0x26, 0x28, 0x2b));
        dark.setColor(QPalette::ToolTipBase, QColor(0x2b, 0x2d, 0x31));
        dark.setColor(QPalette::ToolTipText, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Text, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Button, QColor(0x35, 0x37, 0x3b));
        dark.setColor(QPalette::ButtonText, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Highlight, QColor(0x2d, 0x7f, 0xf9));
        dark.setColor(QPalette::HighlightedText, Qt::white);
        dark.setColor(QPalette::Link, QColor(0x6c, 0xa8, 0xff));
        dark.setColor(QPalette::PlaceholderText, QColor(0x8a, 0x8a, 0x8a));
        QApplication::setPalette(dark);
    } else if (theme == QLatin1String("light")) {
        QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        QApplication::setPalette(QApplication::style()->standardPalette());
    } else {
        QApplication::setPalette(systemPalette);
    }
}

SettingsDialog::SettingsDialog(const Preferences &preferences, QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Settings"));
    m_bind = new QLineEdit(preferences.bind, this);
    m_port = new QSpinBox(this);
    m_port->setRange(0, 65535);
    m_port->setValue(preferences.port);
    m_token = new QLineEdit(preferences.token, this);
    m_token->setEchoMode(QLineEdit::PasswordEchoOnEdit);
    m_token->setPlaceholderText(tr("none (loopback only)"));
    m_viewerToken = new QLineEdit(preferences.viewerToken, this);
    m_viewerToken->setEchoMode(QLineEdit::PasswordEchoOnEdit);
    m_stall = new QSpinBox(this);
    m_stall->setRange(10, 86400);
    m_stall->setSuffix(tr(" s"));
    m_stall->setValue(preferences.stallSeconds);
    m_theme = new QComboBox(this);
    m_theme->addItem(tr("System"), QStringLiteral("system"));
    m_theme->addItem(tr("Light"), QStringLiteral("light"));
    m_theme->addItem(tr("Dark"), QStringLiteral("dark"));
    m_theme->setCurrentIndex(qMax(0, m_theme->findData(preferences.theme)));

    auto *form = new QFormLayout;
    form->addRow(tr("Listen on address"), m_bind);
    form->addRow(tr("Port"), m_port);
    form->addRow(tr("Producer/admin token"), m_token);
    form->addRow(tr("Viewer token"), m_viewerToken);
    auto *note = new QLabel(tr("Server settings take effect at the next start. Any address other than "
                               "127.0.0.1 or ::1 always needs a token."),
                            this);
    note->setWordWrap(true);
    form->addRow(note);
    form->addRow(tr("Warn when a running run is silent for"), m_stall);
    form->addRow(tr("Theme"), m_theme);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        QHostAddress address;
        if (m_bind->text().trimmed() != QLatin1String("localhost") && !address.setAddress(m_bind->text().trimmed())) {
            m_bind->setFocus();
            m_bind->selectAll();
            return;
        }
        accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
}

Preferences SettingsDialog::preferences() const
{
    Preferences p;
    p.bind = m_bind->text().trimmed();
    p.port = m_port->value();
    p.token = m_token->text();
    p.viewerToken = m_viewerToken->text();
    p.stallSeconds = m_stall->value();
    p.theme = m_theme->currentData().toString();
    return p;
}

} // namespace Runwatch
