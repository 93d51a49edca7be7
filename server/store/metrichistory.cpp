#include "metrichistory.h"

#include "eventstore.h"

#include <QtEndian>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace Runwatch {

namespace {

// In memory per block summary and per series (map node, keys, vectors): what memoryBytes counts.
constexpr qint64 BlockOverhead = qint64(sizeof(MetricHistory::Block));
constexpr qint64 SeriesOverhead = 256;

} // namespace

MetricHistory::MetricHistory(EventStore *store, qint64 tailBudgetBytes)
    : m_store(store)
    , m_budget(qMax<qint64>(tailBudgetBytes, 64 * 1024))
{
}

void MetricHistory::load()
{
    m_series.clear();
    m_blocks = 0;
    m_tailBytes = 0;
    for (const StoredBlock &stored : m_store->blockIndex()) {
        Series &series = m_series[Key(stored.run, stored.metric)];
        Block block;
        block.index = stored.index;
        block.lastSeq = stored.lastSeq;
        block.count = stored.count;
        block.firstStep = stored.firstStep;
        block.lastStep = stored.lastStep;
        block.min = stored.min;
        block.max = stored.max;
        series.blocks.push_back(block);
        series.storedSeq = qMax(series.storedSeq, stored.lastSeq);
        ++m_blocks;
    }
    for (auto &entry : m_series)
        std::sort(entry.second.blocks.begin(), entry.second.blocks.end(), [](const Block &a, const Block &b) { return a.index < b.index; });
}

void MetricHistory::point(const QString &run, const QString &metric, qint64 step, double value, qint64 tsMs, qint64 seq)
{
    auto it = m_series.find(Key(run, metric));
    if (it == m_series.end())
        it = m_series.emplace(Key(run, metric), Series()).first;
    Series &series = it->second;
    if (seq > 0 && seq <= series.storedSeq)
        return; // replayed after a crash: this point reached a block before
    series.tail.steps.append(step);
    series.tail.values.append(value);
    series.tail.tsMs.append(tsMs);
    series.tailLastSeq = seq;
    series.touched = ++m_clock;
    m_tailBytes += BytesPerPoint;
    if (series.tail.size() >= BlockPoints)
        flush(it->first, series);
    if (m_tailBytes > m_budget)
        keepBudget();
}

bool MetricHistory::flush(const Key &key, Series &series)
{
    const qsizetype n = series.tail.size();
    if (n == 0)
        return true;
    StoredBlock stored;
    stored.run = key.first;
    stored.metric = key.second;
    stored.index = series.blocks.empty() ? 0 : series.blocks.back().index + 1;
    stored.lastSeq = series.tailLastSeq;
    stored.count = n;
    stored.firstStep = series.tail.steps.first();
    stored.lastStep = series.tail.steps.last();
    // Extremes of the finite values (NaN is never a minimum or a maximum); NaN when there are none.
    double lo = std::nan(""), hi = std::nan("");
    for (double v : std::as_const(series.tail.values)) {
        if (std::isnan(v))
            continue;
        lo = std::isnan(lo) ? v : std::min(lo, v);
        hi = std::isnan(hi) ? v : std::max(hi, v);
    }
    stored.min = lo;
    stored.max = hi;
    stored.data = pack(series.tail);
    if (!m_store->saveBlock(stored)) {
        // Kept in memory and tried again with the next point; the events hold them too.
        ++m_writeErrors;
        return false;
    }
    Block block;
    block.index = stored.index;
    block.lastSeq = stored.lastSeq;
    block.count = n;
    block.firstStep = stored.firstStep;
    block.lastStep = stored.lastStep;
    block.min = lo;
    block.max = hi;
    series.blocks.push_back(block);
    series.storedSeq = stored.lastSeq;
    series.tail = MetricSeries();
    m_tailBytes -= n * BytesPerPoint;
    ++m_blocks;
    return true;
}

void MetricHistory::keepBudget()
{
    // The tails added to least recently go first, until half the budget is free.
    std::vector<std::pair<quint64, std::map<Key, Series>::iterator>> order;
    for (auto it = m_series.begin(); it != m_series.end(); ++it) {
        if (it->second.tail.size() > 0)
            order.emplace_back(it->second.touched, it);
    }
    std::sort(order.begin(), order.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    for (const auto &entry : order) {
        if (m_tailBytes <= m_budget / 2)
            break;
        if (!flush(entry.second->first, entry.second->second))
            break; // the store refuses: try again later
    }
}

bool MetricHistory::flushAll()
{
    bool ok = true;
    for (auto &entry : m_series)
        ok = flush(entry.first, entry.second) && ok;
    return ok;
}

MetricSeries MetricHistory::read(const QString &run, const QString &metric) const
{
    MetricSeries out;
    const auto it = m_series.find(Key(run, metric));
    if (it == m_series.end())
        return out;
    const Series &series = it->second;
    qint64 total = series.tail.size();
    for (const Block &block : series.blocks)
        total += block.count;
    out.steps.reserve(total);
    out.values.reserve(total);
    out.tsMs.reserve(total);
    if (!series.blocks.empty()) {
        for (const QByteArray &data : m_store->readBlocks(run, metric))
            unpack(data, &out);
    }
    out.steps += series.tail.steps;
    out.values += series.tail.values;
    out.tsMs += series.tail.tsMs;
    return out;
}

qint64 MetricHistory::count(const QString &run, const QString &metric) const
{
    const auto it = m_series.find(Key(run, metric));
    if (it == m_series.end())
        return 0;
    qint64 total = it->second.tail.size();
    for (const Block &block : it->second.blocks)
        total += block.count;
    return total;
}

void MetricHistory::removeRun(const QString &run)
{
    auto it = m_series.lower_bound(Key(run, QString()));
    while (it != m_series.end() && it->first.first == run) {
        m_tailBytes -= it->second.tail.size() * BytesPerPoint;
        m_blocks -= qint64(it->second.blocks.size());
        it = m_series.erase(it);
    }
}

qint64 MetricHistory::memoryBytes() const
{
    return m_tailBytes + m_blocks * BlockOverhead + qint64(m_series.size()) * SeriesOverhead;
}

QByteArray MetricHistory::pack(const MetricSeries &points)
{
    // Little-endian: the point count, then the steps, the values and the times, 8 bytes each.
    const qsizetype n = points.size();
    QByteArray data(8 + n * BytesPerPoint, Qt::Uninitialized);
    char *p = data.data();
    qToLittleEndian<qint64>(n, p);
    p += 8;
    for (qsizetype i = 0; i < n; ++i, p += 8)
        qToLittleEndian<qint64>(points.steps.at(i), p);
    for (qsizetype i = 0; i < n; ++i, p += 8) {
        quint64 bits;
        const double v = points.values.at(i);
        std::memcpy(&bits, &v, 8);
        qToLittleEndian<quint64>(bits, p);
    }
    for (qsizetype i = 0; i < n; ++i, p += 8)
        qToLittleEndian<qint64>(points.tsMs.at(i), p);
    return data;
}

bool MetricHistory::unpack(const QByteArray &data, MetricSeries *into)
{
    if (data.size() < 8)
        return false;
    const char *p = data.constData();
    const qint64 n = qFromLittleEndian<qint64>(p);
    if (n < 0 || data.size() != 8 + n * BytesPerPoint)
        return false;
    p += 8;
    for (qint64 i = 0; i < n; ++i, p += 8)
        into->steps.append(qFromLittleEndian<qint64>(p));
    for (qint64 i = 0; i < n; ++i, p += 8) {
        const quint64 bits = qFromLittleEndian<quint64>(p);
        double v;
        std::memcpy(&v, &bits, 8);
        into->values.append(v);
    }
    for (qint64 i = 0; i < n; ++i, p += 8)
        into->tsMs.append(qFromLittleEndian<qint64>(p));
    return true;
}

} // namespace Runwatch
