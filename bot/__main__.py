from bot.admin.cli import main

main()
