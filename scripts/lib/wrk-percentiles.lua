-- wrk script: after the run, one line "WRK_PERCENTILES p50 p99 p99.9" in microseconds, from
-- wrk's own latency histogram (its --latency table stops at p99).
done = function(summary, latency, requests)
  io.write(string.format("WRK_PERCENTILES %d %d %d\n",
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
