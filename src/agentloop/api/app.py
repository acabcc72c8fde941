"""The loopd HTTP application: routes, auth, error translation, the dashboard's files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from agentloop import __version__
from agentloop.api.auth import BearerAuth
from agentloop.api.errors import install_error_handlers
from agentloop.api.mcp_server import create_mcp_server, lifespan, mount
from agentloop.api.routes_experiment import router as experiment_router
from agentloop.api.routes_live import router as live_router
from agentloop.api.routes_notes import router as notes_router
from agentloop.api.routes_plan import router as plan_router
from agentloop.api.routes_review import router as review_router
from agentloop.api.routes_runs import router as runs_router
from agentloop.api.routes_stream import router as stream_router
from agentloop.api.routes_system import router as system_router
from agentloop.api.routes_workspaces import router as workspaces_router
from agentloop.engine.runtime import Runtime

WEB_DIR = Path(__file__).parent / "web"


def create_app(runtime: Runtime) -> FastAPI:
    mcp = create_mcp_server(runtime)
    app = FastAPI(
        title="loopd",
        version=__version__,
        description="agentloop daemon: runs AI coding agents in durable loops.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan(mcp),
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(system_router)
    app.include_router(runs_router)
    app.include_router(stream_router)
    app.include_router(live_router)
    app.include_router(review_router)
    app.include_router(experiment_router)
    app.include_router(notes_router)
    app.include_router(plan_router)
    app.include_router(workspaces_router)
    mount(app, mcp, runtime.settings.host)
    _mount_dashboard(app)
    app.add_middleware(BearerAuth, token=runtime.settings.auth_token)
    return app


def _mount_dashboard(app: FastAPI) -> None:
    index = WEB_DIR / "index.html"

    @app.get("/", include_in_schema=False, response_model=None)
    def dashboard() -> Response:
        if not index.exists():
            return Response(
                "loopd is running; the dashboard is not built into this copy.\n",
                media_type="text/plain",
            )
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    if WEB_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
