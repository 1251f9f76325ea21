"""zeikan.sim: the synthetic customs world behind ``zeikan simulate``.

Modules: ``catalog`` (goods/HS tariff, countries, offices, scanners: constants),
``actors`` (importers, declarants, collusive networks), ``fraud`` (who cheats and how),
``containers`` (ISO 6346 ids, FCL/LCL assignment), ``policy`` (legacy inspection policy,
imperfect inspections), ``world`` (one day, vectorised), ``cargo`` (``ContainerLoad``:
the image renderer's hook), ``writer`` (JSON Lines), ``simulate`` (a whole run),
``cli``; ``xray*`` hold the X-ray renderer. The closed loop: ``port`` (a port that obeys
zeikan's decisions), ``replay_day`` (a day's decisions through ``zeikan.streams.engine.replay``),
``closed_loop`` (``zeikan simulate --closed-loop``), ``live_traffic`` (``zeikan run``'s traffic).
"""
