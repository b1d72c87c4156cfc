"""Sends the shop's tasks to the worker and waits for each to finish."""
import json

from shop_tasks import private_chore, rebuild_report, refund, send_receipt

results = [send_receipt.delay(i) for i in range(5)]
results += [refund.delay(i) for i in range(2)]
results += [rebuild_report.delay(), private_chore.delay()]
for r in results:
    r.get(timeout=60, propagate=False)
states = [r.state for r in results]
print(json.dumps(states))
