"""FastAPI (or Starlette) with Edge Monitor.

    EDGE_MONITOR_URL=http://127.0.0.1:8787 EDGE_MONITOR_KEY=... uvicorn fastapi_app:app
"""

from fastapi import FastAPI

from edge_monitor.asgi import EdgeMonitorASGIMiddleware

app = FastAPI()
app.add_middleware(EdgeMonitorASGIMiddleware, service="api")  # url/key from the environment


@app.get("/users/{user_id}")
async def user(user_id: int):
    return {"id": user_id}
