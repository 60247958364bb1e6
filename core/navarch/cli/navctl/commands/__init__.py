"""navctl's commands: one module per verb (or family of verbs), each with a
``register(commands)`` function. Modules here are discovered by name."""
