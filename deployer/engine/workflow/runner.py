"""Run an Argo-form workflow from the client: no controller, every node recorded in the cluster.

`Runner(workflow, executor=, store=, options=).run()` resolves the arguments, runs the
entrypoint and then the exit handler, and returns the final RunRecord. Steps and DAGs live in
`flow`, leaves (pods, resources, deployer kinds, suspend) in `leaves`. The run's settings
and first record are in `run_options`, a template call's inputs and deadline in
`call_inputs`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from deployer.engine.workflow import dag, flow, leaves, liveness, retries, scope
from deployer.engine.workflow.arguments import resolve_arguments
from deployer.engine.workflow.call_inputs import resolve_inputs, template_vars, with_deadline
from deployer.engine.workflow.calls import NODE_TYPES, Call, Outcome
from deployer.engine.workflow.executor import Executor
from deployer.engine.workflow.masking import Masker
from deployer.engine.workflow.nodes import NodeBook, NodeListener
from deployer.engine.workflow.record import RecordStore
from deployer.engine.workflow.record_writer import RecordWriter
from deployer.engine.workflow.run_options import RunOptions, global_vars, new_record
from deployer.errors import ApiError, DeployerError, WorkflowError
from deployer.model import run as runmodel
from deployer.model.run import NodeRecord, RunRecord
from deployer.model.workflow import Workflow

log = logging.getLogger(__name__)

# The message of a run, and of its nodes, that ended because of `Runner.stop(how)`, by `how`.
STOP_MESSAGES = {
    "stop": "run stopped",
    "terminate": "run terminated",
    "deadline": "run exceeded its activeDeadlineSeconds",
    "record": "run stopped because its record grew too large to store",
    "lost": "run stopped because its record could not be written",
}
# Stop reasons that also cancel the exit handler: `lost` too, because the exit handler's
# steps would need the cluster that cannot be reached.
CANCELS_EXIT_HANDLER = ("terminate", "lost")


class Runner:
    """Runs one workflow to its end; one instance per run (or per retry of a run)."""

    def __init__(
        self, workflow: Workflow, *, executor: Executor, store: RecordStore, options: RunOptions
    ) -> None:
        self.workflow = workflow
        self.executor = executor
        self.store = store
        self.options = options
        self.masker = Masker()
        self.cancel = threading.Event()  # set by stop, terminate or the workflow deadline
        self.shutdown = ""  # "stop", "terminate" or "deadline" once cancel is set
        self.exiting = False  # once True, the exit handler runs and only terminate cancels it
        self.suspended: dict[str, threading.Event] = {}
        self.pending_resume: str | None = None
        self.lock = threading.Lock()
        limit = workflow.parallelism
        self.pod_slots = threading.BoundedSemaphore(limit) if limit else None
        self.parameters = resolve_arguments(workflow, options.parameters)
        self.record = new_record(workflow, options, self.parameters, self.masker)
        self.book = NodeBook(self.record, previous=options.previous)
        self.book.listeners.extend(self._masked(listener) for listener in options.listeners)
        self.globals = global_vars(self.record, self.parameters)

    def _masked(self, listener: NodeListener) -> NodeListener:
        """Wrap a caller's listener so it sees nodes as the stored record shows them."""

        def masked(node: NodeRecord) -> None:
            listener(NodeRecord.from_dict(self.masker.mask_data(node.to_dict())))

        return masked

    def masked_snapshot(self) -> RunRecord:
        """Return the record as it is now, with secret values masked as when stored."""
        return RunRecord.from_dict(self.masker.mask_data(self.book.snapshot()))

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def stop_message(self) -> str:
        """The message of a node or run that ended because the run was stopped."""
        return STOP_MESSAGES.get(self.shutdown, f"run {self.shutdown}")

    # The run as a whole

    def run(self) -> RunRecord:
        """Run the entrypoint, then the exit handler; return the final record, masked as stored.

        Raises WorkflowError before anything runs when the run's record cannot be stored
        (RunExists when a run of that name is recorded already), and at the end when the
        final record could not be written.
        """
        writer = RecordWriter(
            self.store,
            self._snapshot,
            self.masker,
            heartbeat=liveness.HEARTBEAT_SECONDS,
            on_too_large=lambda _reason: self.stop("record"),
            on_lost=lambda _reason: self.stop("lost"),
            lost_after=self.options.record_lost_after,
        )
        with self.book.lock:
            self.record.phase = runmodel.RUNNING
        writer.begin(new=self.options.previous is None)
        self._save_secrets(writer)
        self.book.listeners.append(lambda _node: writer.changed())
        writer.start()
        watching = threading.Event()
        controls = threading.Thread(target=self._watch_controls, args=(watching,), daemon=True)
        controls.start()
        deadline_timer = self._start_deadline()
        try:
            root = self._run_entrypoint()
            exit_node = self._run_exit_handler(root)
            self._finish(root, exit_node)
        finally:
            if deadline_timer is not None:
                deadline_timer.cancel()
            watching.set()
            if writer.lost is not None:
                self._end_as_error(f"run stopped because {writer.lost}")
            writer.close()
            if writer.too_large is not None:
                self._fail_for_record(writer.too_large)
                writer.write()
            self.executor.close()
        if writer.failure is not None:
            raise WorkflowError(
                f"run {self.name} ended {self.record.phase}, but writing its record failed "
                f"({writer.failure}), so the stored record shows an earlier state; once the "
                f"cluster can be reached, see `deployer get {self.name}`, then "
                f"`deployer retry {self.name}`"
            )
        return RunRecord.from_dict(self.masker.mask_data(self.record.to_dict()))

    def _save_secrets(self, writer: RecordWriter) -> None:
        """Store the values of masked parameters for a retry; end the run if that fails."""
        values = {key: self.parameters[key] for key in self.record.masked}
        try:
            self.store.save_secrets(self.name, values)
        except ApiError as failed:
            reason = f"storing the values of its secret parameters failed: {failed}"
            self._end_as_error(f"run did not start: {reason}")
            writer.write()
            raise WorkflowError(f"run {self.name} did not start: {reason}") from None

    def _end_as_error(self, message: str) -> None:
        with self.book.lock:
            self.record.phase = runmodel.ERROR
            self.record.message = message
            self.record.finished = self.record.finished or runmodel.now_rfc3339()

    def _fail_for_record(self, reason: str) -> None:
        """End the run as Error because its record could not be stored whole."""
        self._end_as_error(f"{reason}; the stored record keeps no node inputs, outputs or results")
        log.error("run %s: %s", self.name, self.record.message)

    def _snapshot(self) -> dict[str, Any]:
        with self.book.lock:
            self.record.heartbeat = runmodel.now_rfc3339()
        return self.book.snapshot()

    def _run_entrypoint(self) -> NodeRecord:
        entry = self.workflow.entrypoint or ""
        template = self.workflow.templates.get(entry)
        if template is None:
            raise WorkflowError(
                f"{self.workflow.source_file}: entrypoint {entry!r} is not a template"
            )
        # As in Argo, the workflow's arguments are the entrypoint's arguments, so they fill
        # its inputs of the same name.
        arguments = dict(self.parameters)
        call = Call(self.name, self.name, None, template, self.workflow, arguments, 0, None)
        root = self.invoke(call)
        with self.book.lock:
            self.record.root = root.id
        return root

    def _run_exit_handler(self, root: NodeRecord) -> NodeRecord | None:
        handler = self.workflow.on_exit
        if not handler or self.shutdown in CANCELS_EXIT_HANDLER:
            return None
        template = self.workflow.templates.get(handler)
        if template is None:
            raise WorkflowError(
                f"{self.workflow.source_file}: onExit {handler!r} is not a template"
            )
        failures = self.record.failures()
        self.globals["workflow.status"] = root.phase if root.phase != "Omitted" else "Failed"
        self.globals["workflow.failures"] = scope.to_json(failures)
        with self.lock:
            self.exiting = True
            if self.shutdown:
                self.cancel.clear()  # exit handlers of a stopped run still run, as in Argo
        # The exit handler always runs again on a retry, because the run's status changed.
        self.book.end_reuse()
        name = f"{self.name}.onExit"
        node = self.invoke(Call(name, name, None, template, self.workflow, {}, 0, None))
        with self.book.lock:
            self.record.exit_root = node.id
        return node

    def _finish(self, root: NodeRecord, exit_node: NodeRecord | None) -> None:
        phase = root.phase
        message = root.message
        if (
            exit_node is not None
            and exit_node.phase in runmodel.FAILED_PHASES
            and phase == "Succeeded"
        ):
            phase, message = exit_node.phase, f"exit handler failed: {exit_node.message}"
        if self.shutdown and phase == "Succeeded":
            phase = "Failed"
        if self.shutdown:
            message = self.stop_message
        with self.book.lock:
            self.record.phase = (
                phase if phase in runmodel.FAILED_PHASES or phase == "Succeeded" else "Failed"
            )
            self.record.message = message
            self.record.finished = runmodel.now_rfc3339()
        log.info("run %s %s", self.name, self.record.phase.lower())

    def _start_deadline(self) -> threading.Timer | None:
        seconds = self.workflow.active_deadline_seconds
        if seconds in (None, ""):
            return None
        timer = threading.Timer(float(str(seconds)), self.stop, kwargs={"how": "deadline"})
        timer.daemon = True
        timer.start()
        return timer

    # Controls from `deployer resume/stop/terminate`

    def stop(self, how: str = "stop") -> None:
        """Stop the run: running leaves end as Failed, nothing new starts.

        Once the exit handler runs, only `terminate`, or `lost` from the record writer,
        cancels it. A stop request stays on the record while the exit handler runs, and the
        control watch reports it again on every record write.
        """
        with self.lock:
            if self.shutdown in CANCELS_EXIT_HANDLER:
                return
            if self.exiting and how not in CANCELS_EXIT_HANDLER:
                return
            self.shutdown = how
        log.info("run %s: %s requested", self.name, how)
        self.cancel.set()

    def resume(self, target: str) -> bool:
        """Resume suspended nodes named `target` (path, display name or id) or `all`."""
        matched = False
        with self.lock:
            for node_id, event in list(self.suspended.items()):
                node = self.record.nodes[node_id]
                if target in ("all", "", node.id, node.name, node.display_name):
                    event.set()
                    matched = True
            if not matched:
                self.pending_resume = target
        return matched

    def _watch_controls(self, done: threading.Event) -> None:
        try:
            for controls in self.store.watch_controls(self.name, done):
                if "terminate" in controls:
                    self.stop("terminate")
                elif "stop" in controls:
                    self.stop("stop")
                if "resume" in controls and self.resume(controls["resume"]):
                    self.store.clear(self.name, "resume")
        except Exception:  # the run goes on without controls rather than dying
            log.exception("watching run %s for resume/stop requests failed", self.name)

    # Template calls

    def invoke(self, call: Call) -> NodeRecord:
        """Run one template call as a node (with its retries) and return the finished node."""
        old = self.book.reusable(call.name)
        if old is not None:
            return self.book.adopt(old, call.parent)
        template = call.template
        node_type = NODE_TYPES[template.kind]
        if template.retry_strategy is not None:
            node_type = "Retry"
        node = self.book.create(
            name=call.name,
            display=call.display,
            type=node_type,
            template=template.name,
            parent=call.parent,
        )
        try:
            inputs = resolve_inputs(call, self.globals, self.masker)
        except WorkflowError as bad:
            self.book.finish(node, "Error", str(bad))
            return node
        if call.depth > self.options.max_depth:
            message = (
                f"template {template.name} nested deeper than {self.options.max_depth} calls; "
                "check the stop condition of its recursion"
            )
            self.book.finish(node, "Failed", message)
            return node
        if template.retry_strategy is not None:
            retries.run_with_retries(self, node, call, inputs)
        else:
            self.attempt(node, call, inputs, retries=None)
        return node

    def attempt(
        self, node: NodeRecord, call: Call, inputs: dict[str, str], *, retries: int | None
    ) -> None:
        """Run one attempt of a template as `node` and finish the node."""
        self.book.start(node, inputs=inputs)
        if self.cancel.is_set():
            self.book.finish(node, "Failed", f"not started: {self.stop_message}")
            return
        template = call.template
        values = template_vars(self.globals, node, inputs, retries)
        try:
            call = with_deadline(call, values)
            outcome = self._dispatch(node, call, values)
        except DeployerError as bad:
            outcome = Outcome("Failed" if isinstance(bad, WorkflowError) else "Error", str(bad))
        except Exception as bug:  # a node must never stay Running because of a crash
            log.exception("node %s of template %s crashed", node.name, template.name)
            outcome = Outcome("Error", f"internal error: {type(bug).__name__}: {bug}")
        self.book.finish(
            node,
            outcome.phase,
            outcome.message,
            outputs=outcome.outputs,
            result=outcome.result,
            exit_code=outcome.exit_code,
        )

    def _dispatch(self, node: NodeRecord, call: Call, values: dict[str, str]) -> Outcome:
        kind = call.template.kind
        handlers: dict[str, Callable[[Runner, NodeRecord, Call, dict[str, str]], Outcome]] = {
            "steps": flow.run_steps,
            "dag": dag.run_dag,
            "suspend": leaves.run_suspend,
            "container": leaves.run_pod,
            "script": leaves.run_pod,
            "resource": leaves.run_resource,
        }
        handler = handlers.get(kind, leaves.run_kind)
        return handler(self, node, call, values)

    # Variables

    def substitute(self, text: str, values: Mapping[str, str]) -> str:
        return scope.substitute(text, values)

    def substitute_value(self, value: Any, values: Mapping[str, str]) -> Any:
        return scope.substitute_value(value, values)
