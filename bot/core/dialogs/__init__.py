"""The chat's dialogs, one module each, behind one dispatcher.

`dispatch` reads a message and routes it by the command table (`bot.core.commands`); each dialog
(`join`, `report`, `delete`, `reflect`, `send_back`) is a step: its typed state (`state`) and
the turn in, the next state and the replies out (`base.Next`). Storage arrives with the turn;
the dispatcher alone writes the dialog state, once per message.
"""
