#pragma once

// The JSON codec of the wire contract: parses and validates what producers send and writes
// the envelopes every consumer reads. Pure functions, no QObject: fuzzed and unit tested as is.
// All of it is in namespace Runwatch::Codec, one header for each job:
#include "envelope.h"   // envelopes and frames written, envelopes read back from the store
#include "eventcodec.h" // a producer's event validated; ids, types and metric values
#include "jsontext.h"   // JSON text: parsing with limits, string escaping, numbers
#include "timestamp.h"  // RFC 3339 times and an event's ts

#include <QJsonDocument>
#include <QJsonValue>
