"""``diamond demo``: a whole cohort's life on a sandbox forum, through the real pipeline.

Modules, from the machinery up to the story:

- ``stack``: Redis, the sandbox forum (in this process, on the shared simulated
  clock), ``diamond serve`` and ``diamond worker`` as child processes on loopback;
  ``wait_idle`` (webhooks delivered, no job in flight), clean stop on Ctrl-C.
- ``timeline``: ``SimulatedTime`` moves the shared clock and fires each periodic
  job at its own simulated moment through the real ``Scheduler``.
- ``context``: ``Demo`` (what chapters share), the ``Agenda`` of moments, and
  ``Capabilities`` (which parts of Diamond are wired into the pipeline).
- ``people`` (the cast and their habits), ``members`` (what they do, over HTTP
  with their own keys), ``view`` (what the demo sees of the forum).
- chapters: ``ch_gate`` (set-up, applications, the moderator), ``ch_camp``
  (camp, extension, squads), ``ch_weeks`` (writing, reviews, audits),
  ``ch_wrapup`` (badges, health report, HTML).
- ``summary`` (the closing lines) and ``run`` (``run_demo``: all of the above).

Adding a chapter: write ``schedule_<name>(demo)`` that puts moments on
``demo.agenda`` (``demo.agenda.at(demo.day(n, hour), label, action)``; a header
moment with ``order=0`` calls ``demo.progress.phase(...)`` and
``demo.note_unavailable(chapter, *capabilities)``), have the actions act through
``demo.members`` and read through ``demo.view``, keep what the summary needs in
``demo.facts``, and call it from ``run._run`` next to the others (and bump
``progress.phase_count``). Diamond's side needs no wiring: its routes and
periodic jobs are found in the pipeline's registries.
"""
