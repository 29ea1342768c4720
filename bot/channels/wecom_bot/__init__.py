"""WeCom's intelligent robot (智能机器人) over the long connection the bot opens itself."""
