"""The web page and HTTP API (`praktikbot serve`): see bot.web.app.create_app."""
