print("single")
