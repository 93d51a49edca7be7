#pragma once

#include "config.h"

#include <QString>
#include <QStringList>

namespace Runwatch {

struct AppOptions {
    ServerConfig server;
    bool headless = false;
    bool demo = false;
    int demoSpeed = 1; // --demo-speed: demo ticks per real tick
    QString screenshot;
    QString lang;
    bool tokenGenerated = false;
};

// Parses the command line (arguments include the program name). On a bad flag returns false
// with one line in *error. --help and --version print and exit the process.
bool parseOptions(const QStringList &arguments, AppOptions *options, QString *error);

QString generateToken();

} // namespace Runwatch
