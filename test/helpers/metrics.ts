/**
 * One sample of a Prometheus metric as a server's /metrics shows it: `name{labels} value`, labels in
 * prom-client's order. 0 when the series has not appeared yet (a labelled counter starts empty).
 */
export async function metricValue(url: string, name: string, labels: Record<string, string> = {}) {
  const response = await fetch(`${url}/metrics`)
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`)
  const pairs = Object.entries(labels).map(([key, value]) => `${key}="${value}"`)
  const series = pairs.length > 0 ? `${name}{${pairs.join(',')}}` : name
  const line = (await response.text()).split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}
